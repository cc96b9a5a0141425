from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from service.domain.validation import (
    PRINTABLE_PATTERN,
    SLUG_PATTERN,
    reject_blank,
    reject_control_characters,
)

# Documented limit on answer length (characters, after JSON decoding). Short-answer
# questions need far less; the cap keeps one request from tying up a scoring thread.
MAX_ANSWER_CHARS = 10_000
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

# Length is checked first (cheap), then control characters and blank text.
AnswerText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ANSWER_CHARS),
    AfterValidator(reject_control_characters),
    AfterValidator(reject_blank),
]
LearnerId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255),
    AfterValidator(reject_control_characters),
    AfterValidator(reject_blank),
]


class SubmissionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question_id: Annotated[str, Field(min_length=1, max_length=64, pattern=SLUG_PATTERN)]
    learner_id: Annotated[LearnerId, Field(description="Opaque learner id from the LMS.")]
    answer: Annotated[
        AnswerText,
        Field(description=f"The learner's answer, at most {MAX_ANSWER_CHARS} characters."),
    ]


class SpanRead(BaseModel):
    start: int = Field(description="Offset of the first character in the answer (0-based).")
    end: int = Field(description="Offset just past the last character.")
    text: str


class CriterionResultRead(BaseModel):
    id: str
    description: str
    weight: float
    met: bool
    matched_phrasing: str | None = Field(description="The rubric phrasing that matched.")
    matched_words: list[str] = Field(description="The words of the answer that matched.")
    spans: list[SpanRead]
    feedback: str


class Components(BaseModel):
    keyword_coverage: float = Field(ge=0, le=1, description="Weighted share of criteria met.")
    tfidf_similarity: float = Field(
        ge=0, le=1, description="TF-IDF similarity to the closest reference answer, 0..1."
    )


class Weights(BaseModel):
    keywords: float
    similarity: float


class AdvisoryRead(BaseModel):
    code: str = Field(
        description="keyword_stuffing, copies_question, off_topic, gibberish, repetition, "
        "too_short, too_long or not_english"
    )
    message: str = Field(description="What it means, in plain words for the student.")
    cap: float | None = Field(description="The highest score (0..1) the answer could keep.")


class ResultRead(BaseModel):
    points: float
    max_points: float
    score: float = Field(ge=0, le=1, description="points / max_points")
    components: Components
    weights: Weights
    model: Literal["default", "calibrated"] = Field(
        description="default: the rubric's weights; calibrated: a model fitted on graded answers."
    )
    confidence: float | None = Field(
        description="0..1: agreement of the components and distance from a grade boundary."
    )
    needs_review: bool = Field(description="Low confidence or an advisory asks for a teacher.")
    advisories: list[AdvisoryRead]
    criteria: list[CriterionResultRead]
    summary: str
    rubric_version: int
    scorer_version: str
    scored_at: datetime


# ``error``: scoring kept failing after every retry; the answer is stored, for hand grading.
SubmissionStatus = Literal["scored", "pending", "error"]


class SubmissionRead(BaseModel):
    id: uuid.UUID
    question_id: str
    learner_id: str
    answer: str
    status: SubmissionStatus
    created_at: datetime
    points: float | None = Field(
        description="Effective points: the newest instructor override, else the machine score."
    )
    max_points: float | None
    overridden: bool = Field(description="An instructor has overridden the machine score.")
    needs_review: bool = Field(description="The machine score is uncertain or flagged.")
    result: ResultRead | None = Field(description="The newest machine score; null while pending.")
    feedback_url: str | None = Field(
        default=None, description="The student's own feedback page (no key needed; share it)."
    )
    message: str | None = Field(
        default=None, description="Set when the answer is stored but not yet scored."
    )
    scoring_error: str | None = Field(
        default=None,
        description="Why scoring gave up (status `error`): a short reason; hand-grade it "
        "with an override.",
    )


class FeedbackCriterion(BaseModel):
    description: str
    met: bool
    matched_phrasing: str | None
    spans: list[SpanRead]
    feedback: str


class FeedbackAdvisory(BaseModel):
    code: str
    message: str


class FeedbackRead(BaseModel):
    """What a student sees: their own answer, score and feedback; no rubric internals."""

    question_prompt: str
    answer: str
    status: SubmissionStatus
    submitted_at: datetime
    points: float | None
    max_points: float | None
    adjusted_by_instructor: bool
    summary: str | None
    criteria: list[FeedbackCriterion]
    advisories: list[FeedbackAdvisory]
    message: str | None = None


class SubmissionPage(BaseModel):
    items: list[SubmissionRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


SortOrder = Literal["-created_at", "created_at", "-points", "points"]


class SubmissionFilter(BaseModel):
    """Filters shared by the list, the review queue and the CSV export."""

    model_config = ConfigDict(extra="forbid")

    question_id: Annotated[str | None, Field(max_length=64, pattern=SLUG_PATTERN)] = None
    learner_id: Annotated[str | None, Field(max_length=255, pattern=PRINTABLE_PATTERN)] = None
    status: SubmissionStatus | None = None
    needs_review: bool | None = None
    min_points: Annotated[float | None, Field(ge=0)] = Field(
        default=None, description="Effective points at least this."
    )
    max_points: Annotated[float | None, Field(ge=0)] = Field(
        default=None, description="Effective points at most this."
    )
    created_after: datetime | None = None
    created_before: datetime | None = None
    api_key_id: uuid.UUID | None = Field(default=None, description="Posted by this API key.")
    sort: SortOrder = Field(default="-created_at", description="Prefix '-' for descending.")


class SubmissionListQuery(SubmissionFilter):
    cursor: Annotated[str | None, Field(max_length=1024)] = Field(
        default=None, description="The next_cursor of the previous page."
    )
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE
