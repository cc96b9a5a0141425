"""Rubrics: load and validate documents, keep immutable versions, compile graders."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from service.db.models import Course, Question, RubricVersion
from service.db.session import end_read_phase
from service.domain.access.principal import Scope
from service.domain.questions.repository import QuestionRepository
from service.domain.rubrics.repository import RubricRepository
from service.domain.rubrics.schemas import GradedAnswerDoc, RubricDocument
from service.domain.submissions.repository import SubmissionRepository
from service.errors import Conflict, RubricInvalid
from service.scoring import (
    ENGINE_VERSION,
    Calibration,
    CalibrationError,
    CriterionSpec,
    GradedAnswer,
    Grader,
    RubricError,
    RubricSpec,
    ScoringError,
    fit_question_calibration,
)
from service.scoring.fewshot import FewShotCalibration, is_fewshot

log = logging.getLogger(__name__)


def to_spec(document: RubricDocument) -> RubricSpec:
    """The engine's frozen view of a validated rubric document."""
    return RubricSpec(
        prompt=document.prompt,
        max_points=document.max_points,
        score_step=document.score_step,
        reference_answers=tuple(document.reference_answers),
        criteria=tuple(
            CriterionSpec(
                id=c.id,
                description=c.description,
                weight=c.weight,
                phrasings=tuple(c.phrasings),
                feedback_hit=c.feedback.hit,
                feedback_miss=c.feedback.miss,
            )
            for c in document.criteria
        ),
        keyword_weight=document.weights.keywords,
        similarity_weight=document.weights.similarity,
        # One document per line: IDF needs several documents to tell rare terms from common.
        background=tuple(line.strip() for line in document.background.splitlines() if line.strip()),
        # Unset: the language check reads it from the prompt and references.
        language=document.language,
    )


def build_grader(document: RubricDocument) -> Grader:
    """The compiled engine for a rubric document, with its graded answers and calibration."""
    graded = [GradedAnswer(g.answer, g.points) for g in document.graded_answers]
    calibration: Calibration | FewShotCalibration | None = None
    if is_fewshot(document.calibration):
        calibration = FewShotCalibration.from_dict(document.calibration or {})
    elif document.calibration is not None:
        calibration = Calibration.from_dict(document.calibration)
    return Grader(to_spec(document), graded=graded, calibration=calibration)


def parse_document(data: Any, *, source: str) -> RubricDocument:
    """Validate a parsed rubric against the schema only; ``RubricInvalid`` names the field."""
    try:
        return RubricDocument.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "(document)"
        raise RubricInvalid(source, field, error["msg"]) from exc


def validate_document(data: Any, *, source: str) -> RubricDocument:
    """Validate a parsed rubric and check that it compiles; ``RubricInvalid`` names the field."""
    document = parse_document(data, source=source)
    try:
        build_grader(document)
    except RubricError as exc:
        raise RubricInvalid(source, exc.field, exc.problem) from exc
    except CalibrationError as exc:
        field = f"calibration.{exc.field}" if exc.field else "calibration"
        raise RubricInvalid(source, field, f"not a valid calibration: {exc.problem}") from exc
    except (ScoringError, KeyError, TypeError, ValueError) as exc:
        raise RubricInvalid(source, "calibration", f"not a valid calibration: {exc}") from exc
    return document


def load_rubric_file(path: Path) -> RubricDocument:
    source = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise RubricInvalid(source, "(file)", f"not valid UTF-8: {exc}") from exc
    except yaml.YAMLError as exc:
        raise RubricInvalid(source, "(file)", f"not valid YAML: {exc}") from exc
    document = validate_document(data, source=source)
    if document.id != path.stem:
        raise RubricInvalid(source, "id", f"{document.id!r} must match the file name {path.stem!r}")
    return document


def load_rubric_dir(directory: Path) -> list[RubricDocument]:
    """Every ``*.yaml`` rubric in ``directory``, all validated before any is used."""
    if not directory.is_dir():
        raise RubricInvalid(str(directory), "(directory)", "rubrics directory does not exist")
    return [load_rubric_file(path) for path in sorted(directory.glob("*.yaml"))]


@dataclass(frozen=True)
class ImportOutcome:
    question: Question
    version: int
    created: bool

    @property
    def question_id(self) -> str:
        return self.question.slug


def import_document(
    session: Session,
    document: RubricDocument,
    *,
    source: str,
    course: Course,
    force: bool = False,
) -> ImportOutcome:
    """Store ``document`` as a new rubric version unless it is already the newest from ``source``.

    The question is ``document.id`` within ``course``'s organisation; a new one is created
    in ``course``. Idempotent: importing the same file twice creates nothing. Comparing
    against the newest version *from the same source* means a restart never reverts an
    instructor's API edit.
    """
    repo = RubricRepository(session)
    digest = document.content_hash()
    question = QuestionRepository(session, Scope.organization(course.organization_id)).get_by_slug(
        document.id
    )
    if question is not None and not force:
        previous = repo.latest_version(question, source=source)
        if previous is not None and previous.content_hash == digest:
            return ImportOutcome(question, previous.version, created=False)
    if question is None:
        version = 1
        question = Question(
            id=uuid.uuid4().hex,
            slug=document.id,
            organization_id=course.organization_id,
            course_id=course.id,
        )
        question.course = course
        repo.add(question)
    else:
        version = repo.max_version(question) + 1
    question.title = document.title
    question.prompt = document.prompt
    question.max_points = document.max_points
    question.score_step = document.score_step
    question.language = document.language
    question.rubric_version = version
    repo.add(
        RubricVersion(
            question=question,
            version=version,
            content=document.model_dump(mode="json"),
            content_hash=digest,
            source=source,
        )
    )
    session.flush()
    log.info("rubric %s version %d stored (source=%s)", question.id, version, source)
    return ImportOutcome(question, version, created=True)


def create_question(session: Session, data: dict[str, Any], *, course: Course) -> ImportOutcome:
    """A new question from an instructor: validated like a file, stored as version 1."""
    end_read_phase(session)  # compiling holds no lock (SQLite: the one write lock)
    document = validate_document(data, source="request body")
    scope = Scope.organization(course.organization_id)
    if QuestionRepository(session, scope).get_by_slug(document.id) is not None:
        raise Conflict(f"A question with id {document.id!r} already exists; edit its rubric.")
    return import_document(session, document, source="api", course=course)


def update_rubric(session: Session, question: Question, data: dict[str, Any]) -> ImportOutcome:
    """A new immutable rubric version for an existing question (a no-op if unchanged).

    The document is validated and compiled (TF-IDF) before anything is written, outside the
    request's transaction, so that on SQLite no write lock is held while compiling; the
    version number is taken in the write transaction that follows.
    """
    end_read_phase(session)
    document = validate_document({**data, "id": question.slug}, source="request body")
    latest = RubricRepository(session).latest_version(question)
    if latest is not None and latest.content_hash == document.content_hash():
        return ImportOutcome(question, latest.version, created=False)
    return import_document(session, document, source="api", course=question.course, force=True)


@dataclass(frozen=True)
class CalibrationOutcome:
    question_id: str
    version: int
    graded_answers: int
    calibrated: bool
    # "full" (Calibration), "few-shot" (FewShotCalibration) or None (default weights).
    kind: str | None


def calibrate(
    session: Session,
    question: Question,
    *,
    extra: Sequence[GradedAnswerDoc],
    use_overrides: bool,
) -> CalibrationOutcome:
    """Learn from graded answers: a new rubric version that keeps them as scored neighbours
    and, with enough of them, carries a calibration fitted on them.

    Graded answers are the rubric's own, ``extra`` ones sent by the instructor and (with
    ``use_overrides``) the question's submissions whose score an instructor overrode; the
    same answer text counts once, the latest grade winning. From ``MIN_EXAMPLES`` graded
    answers a full calibration is fitted, from ``MIN_TO_CALIBRATE`` a few-shot one; with
    fewer the default weights keep scoring.
    """
    current = RubricDocument.model_validate(current_version(session, question).content)
    merged: dict[str, float] = {g.answer: g.points for g in current.graded_answers}
    merged |= {g.answer: g.points for g in extra}
    if use_overrides:
        scope = Scope.organization(question.organization_id)
        merged |= dict(SubmissionRepository(session, scope).overridden_answers(question))
    graded = [GradedAnswerDoc(answer=a, points=p) for a, p in merged.items()]
    # Validated like any new version before anything is fitted: the merged answers must
    # fit the rubric's scale and limits (a 422 naming the field, never an engine error).
    uncalibrated = parse_document(
        {
            **current.model_dump(mode="json"),
            "graded_answers": [g.model_dump(mode="json") for g in graded],
            "calibration": None,
        },
        source="request body",
    )
    end_read_phase(session)  # fitting holds no lock, like a rubric save
    try:
        grader = build_grader(uncalibrated)
    except RubricError as exc:
        raise RubricInvalid("request body", exc.field, exc.problem) from exc
    # Enough grades for the full model; else, from a handful of one question's grades, the
    # few-shot map (the pilot's path); else none.
    fitted = fit_question_calibration(grader)
    document = uncalibrated.model_copy(
        update={"calibration": fitted.to_dict() if fitted is not None else None}
    )
    outcome = update_rubric(session, question, document.model_dump(mode="json"))
    kind = (
        None
        if fitted is None
        else ("few-shot" if isinstance(fitted, FewShotCalibration) else "full")
    )
    return CalibrationOutcome(question.slug, outcome.version, len(graded), fitted is not None, kind)


def list_versions(session: Session, question: Question) -> Sequence[RubricVersion]:
    return RubricRepository(session).list_versions(question)


def current_version(session: Session, question: Question) -> RubricVersion:
    version = RubricRepository(session).get_version(question, question.rubric_version)
    if version is None:  # guarded by the import, which writes both in one transaction
        raise LookupError(f"question {question.id} has no rubric version {question.rubric_version}")
    return version


def get_version_by_id(session: Session, version_id: int) -> RubricVersion:
    version = session.get(RubricVersion, version_id)
    if version is None:
        raise LookupError(f"no rubric version {version_id}")
    return version


class GraderCache:
    """Compiled graders keyed by (rubric hash, engine version), least recently used evicted.

    Compiling fits TF-IDF, so it happens once per rubric version per process, not per answer.
    Safe to share between request threads; graders themselves are read-only.
    """

    def __init__(self, max_size: int = 256) -> None:
        self.max_size = max_size
        self._graders: OrderedDict[tuple[str, str], Grader] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: RubricVersion) -> Grader:
        return self.get_for(version.content_hash, version.content)

    def get_for(self, content_hash: str, content: Mapping[str, Any]) -> Grader:
        key = (content_hash, ENGINE_VERSION)
        with self._lock:
            grader = self._graders.get(key)
            if grader is not None:
                self._graders.move_to_end(key)
                return grader
        grader = build_grader(RubricDocument.model_validate(content))
        with self._lock:
            self._graders[key] = grader
            while len(self._graders) > self.max_size:
                self._graders.popitem(last=False)
        return grader
