"""The pilot: calibrate a question from the fewest teacher grades.

For a question without graded answers it proposes the next answer to grade (the engine's
``pilot.next_to_grade`` over the newest scored answers, with their answer groups and
criterion hits), records each grade as an ordinary instructor override (audited, sent on
through the outbox like any other), reports the agreement so far between machine and teacher
(``pilot.agreement`` over every answer a teacher graded) and calibrates the question once
agreement is established.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from service.db.models import Question, RubricVersion
from service.db.session import end_read_phase
from service.domain.access.principal import Principal
from service.domain.pilot.repository import AnswerRow, PilotRepository
from service.domain.pilot.schemas import (
    PilotAgreement,
    PilotCalibration,
    PilotGradeCreate,
    PilotProposal,
    PilotRead,
)
from service.domain.reviews import service as review_service
from service.domain.reviews.schemas import OverrideCreate
from service.domain.rubrics import service as rubric_service
from service.domain.submissions import service as submission_service
from service.errors import DomainError, RubricInvalid
from service.scoring import pilot
from service.scoring.grouping import AnswerGrouping

log = logging.getLogger(__name__)

# The pilot chooses among the question's newest scored answers only: grouping and ranking
# cost grows with the square of the answers, and a few hundred recent ones cover what a
# class writes. Agreement reads at most AGREEMENT_LIMIT graded answers (columns only).
MAX_ANSWERS = 500
AGREEMENT_LIMIT = 5000
# The audited reason of a pilot grade sent without one.
PILOT_REASON = "Graded in the pilot."


class WrongQuestion(DomainError):
    status_code = 422
    code = "wrong_question"
    title = "Answer of another question"


class NotScored(DomainError):
    status_code = 422
    code = "not_scored"
    title = "Answer not scored"


def _fraction(points: float | None, max_points: float) -> float:
    if points is None or max_points <= 0:
        return 0.0
    return min(max(points / max_points, 0.0), 1.0)


def _rounded(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


class GroupCache:
    """Answer-group labels keyed by the machine results they were computed from.

    Grouping is most of a pilot request's work, and between two grades the answers and their
    results do not change (a grade is an override, not a new result). A result row is
    immutable and a rescore makes new ones, so the key can never name stale labels, and every
    process computes the same labels for it (the grouping is deterministic).
    """

    def __init__(self, max_size: int = 64) -> None:
        self.max_size = max_size
        self._labels: OrderedDict[str, list[int | None]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(rows: Sequence[AnswerRow], criteria: Sequence[str]) -> str:
        digest = hashlib.sha256(json.dumps(list(criteria)).encode())
        for row in rows:
            digest.update(f"{row.submission_id}:{row.result_id};".encode())
        return digest.hexdigest()

    def labels(self, rows: Sequence[AnswerRow], criteria: Sequence[str]) -> list[int | None]:
        key = self.key(rows, criteria)
        with self._lock:
            found = self._labels.get(key)
            if found is not None:
                self._labels.move_to_end(key)
                return found
        labels = _groups(rows, criteria)
        with self._lock:
            self._labels[key] = labels
            while len(self._labels) > self.max_size:
                self._labels.popitem(last=False)
        return labels


_GROUPS = GroupCache()


def _hits(row: AnswerRow, criteria: Sequence[str]) -> list[float]:
    return [1.0 if c in row.met else 0.0 for c in criteria]


def _groups(rows: Sequence[AnswerRow], criteria: Sequence[str]) -> list[int | None]:
    """Answer-group labels of ``rows``: answers that deserve the same score share one, so
    the pilot proposes one answer of each group rather than many of the largest."""
    if not rows:
        return []
    hits = np.asarray([_hits(row, criteria) for row in rows], dtype=np.float64)
    grouping = AnswerGrouping().fit([row.answer for row in rows], hits if criteria else None)
    return [int(label) for label in grouping.labels_]


def _candidates(
    rows: Sequence[AnswerRow], criteria: Sequence[str]
) -> tuple[list[pilot.Candidate], dict[int, float]]:
    hits = [_hits(row, criteria) for row in rows]
    groups = _GROUPS.labels(rows, criteria)
    candidates = [
        pilot.Candidate(
            index=i,
            machine=_fraction(row.machine_points, row.max_points),
            # An older result without a confidence counts as an even chance.
            confidence=row.confidence if row.confidence is not None else 0.5,
            group=groups[i],
            features=tuple(hits[i]),
            text=row.answer,
        )
        for i, row in enumerate(rows)
    ]
    graded = {
        i: _fraction(row.points, row.max_points) for i, row in enumerate(rows) if row.is_overridden
    }
    return candidates, graded


def _calibration(version: RubricVersion) -> PilotCalibration | None:
    """The calibration the question's current rubric version carries, if any."""
    calibration: Any = version.content.get("calibration")
    if not isinstance(calibration, Mapping):
        return None
    n = calibration.get("n_examples")
    if not isinstance(n, int) or isinstance(n, bool):
        n = len(version.content.get("graded_answers") or [])
    return PilotCalibration(version=version.version, n=n)


def _agreement(repo: PilotRepository) -> pilot.Agreement:
    pairs = repo.graded_pairs(AGREEMENT_LIMIT)
    return pilot.agreement(
        [_fraction(p.machine_points, p.max_points) for p in pairs],
        [_fraction(p.points, p.max_points) for p in pairs],
    )


def state(session: Session, question: Question, *, calibrated_now: bool = False) -> PilotRead:
    """The pilot of ``question`` now: the next answer to grade, the grades and agreement so
    far, and the current calibration."""
    repo = PilotRepository(session, question)
    version = rubric_service.current_version(session, question)
    criteria = [str(c["id"]) for c in version.content.get("criteria", [])]
    rows = repo.newest_scored(MAX_ANSWERS)
    graded_count = repo.graded_count()
    agreement = _agreement(repo)
    # Ranking is CPU work: on SQLite a read-only request gives the write lock back first.
    end_read_phase(session)
    candidates, graded = _candidates(rows, criteria)
    index = pilot.next_to_grade(candidates, graded)
    proposal = None
    if index is not None:
        row = rows[index]
        proposal = PilotProposal(
            submission_id=row.submission_id,
            answer=row.answer,
            machine_points=row.machine_points,
            max_points=row.max_points,
        )
    return PilotRead(
        question_id=question.slug,
        answers=len(rows),
        next=proposal,
        graded=graded_count,
        agreement=PilotAgreement(
            n=agreement.n,
            metric=agreement.metric,
            value=_rounded(agreement.value),
            low=_rounded(agreement.low),
            high=_rounded(agreement.high),
            mean_abs_error=_rounded(agreement.mean_abs_error),
            established=agreement.established,
        ),
        calibrated=_calibration(version),
        calibrated_now=calibrated_now,
        min_to_calibrate=pilot.MIN_TO_CALIBRATE,
    )


def grade(
    session: Session, question: Question, body: PilotGradeCreate, *, principal: Principal
) -> PilotRead:
    """Record a teacher's grade of one answer of ``question`` (an override with a reason)
    and answer the pilot's new state.

    Calibrates the question when this grade leaves the agreement established and the
    current rubric version has no calibration yet: once, since the calibrated version it
    saves stops the next grades from doing it again (a new rubric version without one, e.g.
    an edit, lets it happen again).
    """
    submission = submission_service.get_submission(
        session, body.submission_id, scope=principal.submission_scope
    )
    if submission.question_id != question.id:
        raise WrongQuestion(
            f"Submission {body.submission_id} answers another question, not {question.slug!r}."
        )
    if submission.machine_points is None:
        raise NotScored(
            f"Submission {body.submission_id} has no machine score yet to compare with."
        )
    review_service.create_override(
        session,
        submission_id=submission.id,
        body=OverrideCreate(points=body.points, reason=body.reason or PILOT_REASON),
        principal=principal,
    )
    repo = PilotRepository(session, question)
    agreement = _agreement(repo)
    version = rubric_service.current_version(session, question)
    calibrated_now = False
    if (
        agreement.established
        and agreement.n >= pilot.MIN_TO_CALIBRATE
        and _calibration(version) is None
    ):
        calibrated_now = _calibrate(session, question)
    return state(session, question, calibrated_now=calibrated_now)


def _calibrate(session: Session, question: Question) -> bool:
    """Calibrate from the question's teacher grades; False (the grade still stands) when the
    graded answers cannot make a rubric version (the teacher sees why with "Calibrate now")."""
    try:
        outcome = rubric_service.calibrate(session, question, extra=[], use_overrides=True)
    except RubricInvalid as exc:
        log.warning("pilot: question %s not calibrated: %s", question.id, exc.detail)
        return False
    log.info(
        "pilot: question %s calibrated automatically as version %d on %d graded answers",
        question.id,
        outcome.version,
        outcome.graded_answers,
    )
    return outcome.calibrated
