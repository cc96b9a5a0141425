"""The console's rubric editor: a rubric document as form fields and back, every validation
message mapped to the field it belongs to, and scoring an answer against an unsaved draft.

The form carries only what a teacher edits; what it does not show (language, graded answers,
calibration) is kept from the current version, so saving from the editor never drops them.
Saving goes through ``service.update_rubric``, the same call as ``PUT /v1/questions/{id}/rubric``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from service.db.models import Question
from service.db.session import end_read_phase
from service.domain.rubrics import service as rubric_service
from service.domain.rubrics.schemas import RubricDocument
from service.domain.submissions.schemas import MAX_ANSWER_CHARS, limit_normalised_length
from service.errors import RubricInvalid
from service.scoring import (
    CalibrationError,
    Grader,
    RubricError,
    ScoreBreakdown,
    ScoringError,
    limits,
)

# Empty criterion rows shown after the current ones, so that criteria can be added without JS.
BLANK_ROWS = 2
# Rows a form may post: every allowed criterion plus the blank ones (more is a forged form).
MAX_ROWS = limits.MAX_CRITERIA + BLANK_ROWS
# A line holding only this separates reference answers in their one textarea.
REFERENCE_SEPARATOR = "---"
FORM_ERROR = "rubric-form"
CRITERION_FIELDS = ("id", "description", "weight", "phrasings", "hit", "miss")
_SEPARATOR_LINE = re.compile(r"^[ \t]*---[ \t]*$", re.MULTILINE)


@dataclass
class CriterionForm:
    id: str = ""
    description: str = ""
    weight: str = ""
    phrasings: str = ""  # one per line
    hit: str = ""
    miss: str = ""

    def is_blank(self) -> bool:
        return not any(getattr(self, name).strip() for name in CRITERION_FIELDS)


@dataclass
class RubricForm:
    """The editor's fields as text, exactly as shown and submitted."""

    title: str = ""
    prompt: str = ""
    max_points: str = ""
    score_step: str = ""
    references: str = ""
    keyword_weight: str = ""
    similarity_weight: str = ""
    background: str = ""
    criteria: list[CriterionForm] = field(default_factory=list)

    def with_blank_rows(self) -> RubricForm:
        """As submitted, with blank rows at the end again so another criterion can be added."""
        trailing = 0
        for criterion in reversed(self.criteria):
            if not criterion.is_blank():
                break
            trailing += 1
        extra = max(0, BLANK_ROWS - trailing)
        self.criteria = [*self.criteria, *(CriterionForm() for _ in range(extra))][:MAX_ROWS]
        return self


def _number(value: Any) -> str:
    return f"{float(value):g}" if isinstance(value, int | float) else str(value or "")


def form_of(content: Mapping[str, Any]) -> RubricForm:
    """The editor's fields for a stored rubric document, with blank rows to add criteria."""
    weights = content.get("weights") or {}
    criteria = [
        CriterionForm(
            id=c.get("id", ""),
            description=c.get("description", ""),
            weight=_number(c.get("weight", 1)),
            phrasings="\n".join(c.get("phrasings", [])),
            hit=(c.get("feedback") or {}).get("hit", ""),
            miss=(c.get("feedback") or {}).get("miss", ""),
        )
        for c in content.get("criteria", [])
    ]
    form = RubricForm(
        title=content.get("title", ""),
        prompt=content.get("prompt", ""),
        max_points=_number(content.get("max_points", "")),
        score_step=_number(content.get("score_step", 0.5)),
        references=f"\n{REFERENCE_SEPARATOR}\n".join(content.get("reference_answers", [])),
        keyword_weight=_number(weights.get("keywords", 0.7)),
        similarity_weight=_number(weights.get("similarity", 0.3)),
        background=content.get("background", ""),
        criteria=criteria + [CriterionForm() for _ in range(BLANK_ROWS)],
    )
    form.criteria = form.criteria[:MAX_ROWS]
    return form


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def split_references(text: str) -> list[str]:
    return [part.strip() for part in _SEPARATOR_LINE.split(text) if part.strip()]


@dataclass(frozen=True)
class Draft:
    """A form read as a rubric document: the data, and which form row each criterion is."""

    data: dict[str, Any]
    rows: list[int]  # criteria[i] came from form row rows[i]


def draft_of(form: RubricForm, base: Mapping[str, Any], slug: str) -> Draft:
    rows: list[int] = []
    criteria: list[dict[str, Any]] = []
    for row, c in enumerate(form.criteria):
        if c.is_blank():
            continue
        rows.append(row)
        criterion: dict[str, Any] = {
            "id": c.id.strip(),
            "description": c.description,
            "phrasings": _lines(c.phrasings),
            "feedback": {"hit": c.hit, "miss": c.miss},
        }
        if c.weight.strip():
            criterion["weight"] = c.weight.strip()
        criteria.append(criterion)
    data: dict[str, Any] = {
        # Kept from the current version: what the editor does not show.
        **{k: v for k, v in base.items() if k in ("language", "graded_answers", "calibration")},
        "id": slug,
        "title": form.title,
        "prompt": form.prompt,
        "max_points": form.max_points.strip(),
        "reference_answers": split_references(form.references),
        "background": form.background,
        "criteria": criteria,
    }
    if form.score_step.strip():
        data["score_step"] = form.score_step.strip()
    if form.keyword_weight.strip() or form.similarity_weight.strip():
        data["weights"] = {
            "keywords": form.keyword_weight.strip() or "0",
            "similarity": form.similarity_weight.strip() or "0",
        }
    return Draft(data, rows)


_TOP_FIELDS = {
    "title": "rubric-title",
    "prompt": "rubric-prompt",
    "max_points": "rubric-max-points",
    "score_step": "rubric-score-step",
    "reference_answers": "rubric-references",
    "background": "rubric-background",
    "weights": "rubric-keyword-weight",
}


def field_id(location: Sequence[str | int], rows: Sequence[int]) -> str:
    """The id of the form control that an error location (``criteria.2.feedback.hit``,
    ``criteria[2].phrasings``, ``weights.similarity``) belongs to; the form itself if none."""
    parts = [int(p) if isinstance(p, int) or str(p).isdigit() else str(p) for p in location]
    if not parts:
        return FORM_ERROR
    head = parts[0]
    if head == "criteria" and len(parts) >= 2 and isinstance(parts[1], int):
        index = parts[1]
        row = rows[index] if 0 <= index < len(rows) else index
        rest = [p for p in parts[2:] if isinstance(p, str)]
        name = rest[-1] if rest else "id"
        if name not in CRITERION_FIELDS:
            name = "id"
        return f"criterion-{row}-{name}"
    if head == "weights" and len(parts) >= 2 and parts[1] == "similarity":
        return "rubric-similarity-weight"
    return _TOP_FIELDS.get(str(head), FORM_ERROR)


def parse_location(text: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in re.findall(r"[A-Za-z_]+|\d+", text)]


def _message(location: Sequence[str | int], message: str) -> str:
    message = message.removeprefix("Value error, ")
    if len(location) > 1 and location[0] == "reference_answers" and isinstance(location[1], int):
        return f"Reference answer {location[1] + 1}: {message}"
    if location and location[0] in ("graded_answers", "calibration", "language"):
        return f"{'.'.join(str(p) for p in location)}: {message}"
    return message


Errors = dict[str, str]


def _add(errors: Errors, key: str, message: str) -> None:
    # One message per field: the first is the one to fix first.
    errors.setdefault(key, message)


def validate_draft(draft: Draft) -> tuple[RubricDocument | None, Errors]:
    """The schema's verdict on a draft, every message next to its field (no compiling)."""
    try:
        return RubricDocument.model_validate(draft.data), {}
    except ValidationError as exc:
        errors: Errors = {}
        for error in exc.errors():
            location = list(error["loc"])
            _add(errors, field_id(location, draft.rows), _message(location, error["msg"]))
        return None, errors


def _invalid(exc: RubricInvalid, draft: Draft) -> Errors:
    location = parse_location(exc.field)
    return {field_id(location, draft.rows): _message(location, exc.problem)}


def check_rows(form: RubricForm) -> Errors:
    if len(form.criteria) > MAX_ROWS:
        return {FORM_ERROR: f"At most {limits.MAX_CRITERIA} criteria are allowed."}
    return {}


@dataclass(frozen=True)
class Saved:
    version: int
    created: bool


def save(session: Session, question: Question, form: RubricForm) -> tuple[Saved | None, Errors]:
    """A new rubric version from the editor (``update_rubric``, as the API's PUT)."""
    errors = check_rows(form)
    if errors:
        return None, errors
    base = rubric_service.current_version(session, question).content
    draft = draft_of(form, base, question.slug)
    document, errors = validate_draft(draft)
    if document is None:
        return None, errors
    try:
        outcome = rubric_service.update_rubric(session, question, draft.data)
    except RubricInvalid as exc:
        return None, _invalid(exc, draft)
    return Saved(outcome.version, outcome.created), {}


@dataclass(frozen=True)
class CriterionTried:
    id: str
    description: str
    met: bool
    matched_words: tuple[str, ...]
    feedback: str


@dataclass(frozen=True)
class TryResult:
    points: float
    max_points: float
    score: float
    keyword_coverage: float
    similarity: float
    components: tuple[tuple[str, float], ...]
    criteria: tuple[CriterionTried, ...]
    summary: str
    needs_review: bool
    derived_criteria: bool

    @classmethod
    def of(cls, breakdown: ScoreBreakdown, grader: Grader) -> TryResult:
        return cls(
            points=breakdown.points,
            max_points=breakdown.max_points,
            score=breakdown.score,
            keyword_coverage=breakdown.keyword_coverage,
            similarity=breakdown.similarity,
            components=breakdown.components,
            criteria=tuple(
                CriterionTried(c.id, c.description, c.met, c.matched_words, c.feedback)
                for c in breakdown.criteria
            ),
            summary=breakdown.summary,
            needs_review=breakdown.needs_review,
            derived_criteria=grader.auto_criteria,
        )


def try_answer(
    session: Session,
    question: Question,
    form: RubricForm,
    answer: str,
    graders: rubric_service.GraderCache,
) -> tuple[TryResult | None, Errors]:
    """Score ``answer`` against the draft in ``form`` without saving anything.

    The draft is held to the same limits as a saved rubric before it is compiled, and
    compiled outside any transaction; drafts are cached by hash like saved versions, so
    typing an answer against an unchanged draft compiles once.
    """
    errors = check_rows(form)
    if not answer.strip():
        errors["try-answer"] = "Write an answer to try."
    elif len(answer) > MAX_ANSWER_CHARS:
        errors["try-answer"] = f"At most {MAX_ANSWER_CHARS} characters."
    else:
        try:
            limit_normalised_length(answer)
        except ValueError as exc:
            errors["try-answer"] = f"The answer {exc}."
    base = rubric_service.current_version(session, question).content
    end_read_phase(session)
    draft = draft_of(form, base, question.slug)
    document, draft_errors = validate_draft(draft)
    errors.update(draft_errors)
    if document is None or errors:
        return None, errors
    content = document.model_dump(mode="json")
    try:
        grader = graders.get_for(document.content_hash(), content)
        breakdown = grader.grade(answer)
    except RubricError as exc:
        location = parse_location(exc.field)
        return None, {field_id(location, draft.rows): _message(location, exc.problem)}
    except (CalibrationError, ScoringError, KeyError, TypeError, ValueError) as exc:
        return None, {FORM_ERROR: f"calibration: not a valid calibration: {exc}"}
    return TryResult.of(breakdown, grader), {}
