from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from service.domain.validation import SLUG_PATTERN, reject_blank, reject_control_characters

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


class ResultRead(BaseModel):
    points: float
    max_points: float
    score: float = Field(ge=0, le=1, description="points / max_points")
    components: Components
    weights: Weights
    criteria: list[CriterionResultRead]
    summary: str
    rubric_version: int
    scorer_version: str
    scored_at: datetime


class SubmissionRead(BaseModel):
    id: uuid.UUID
    question_id: str
    learner_id: str
    answer: str
    status: Literal["scored", "pending"]
    created_at: datetime
    result: ResultRead | None = Field(description="The machine score; null while pending.")
    message: str | None = Field(
        default=None, description="Set when the answer is stored but not yet scored."
    )


class SubmissionPage(BaseModel):
    items: list[SubmissionRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
