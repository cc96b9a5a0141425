from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
)

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


def limit_normalised_length(value: str) -> str:
    """The limit holds for the text the engine reads, too: NFKC (``text.normalise``) can
    turn one character into up to 18 (U+FDFA), so a short answer could otherwise grow far
    past the limit inside the grader."""
    if unicodedata.is_normalized("NFKC", value):  # the usual case, and cheaper
        return value
    length = len(unicodedata.normalize("NFKC", value))
    if length > MAX_ANSWER_CHARS:
        raise ValueError(
            f"is {length} characters after Unicode (NFKC) normalisation, which expands some "
            f"characters into several; at most {MAX_ANSWER_CHARS} are allowed"
        )
    return value


# Length is checked first (cheap), then the normalised length, control characters and
# blank text.
AnswerText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ANSWER_CHARS),
    AfterValidator(limit_normalised_length),
    AfterValidator(reject_control_characters),
    AfterValidator(reject_blank),
]
LearnerId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255),
    AfterValidator(reject_control_characters),
    AfterValidator(reject_blank),
]


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_SUBMISSION_CREATE_EXAMPLES: list[JsonValue] = [
    {
        "question_id": "photosynthesis-1",
        "learner_id": "moodle-user-4821",
        "answer": "Plants make glucose and oxygen from carbon dioxide and water, using light "
        "energy.",
    }
]


class SubmissionCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": _SUBMISSION_CREATE_EXAMPLES}, extra="forbid"
    )

    question_id: Annotated[str, Field(min_length=1, max_length=64, pattern=SLUG_PATTERN)]
    learner_id: Annotated[LearnerId, Field(description="Opaque learner id from the LMS.")]
    answer: Annotated[
        AnswerText,
        Field(
            description=f"The learner's answer, at most {MAX_ANSWER_CHARS} characters, also "
            "after Unicode NFKC normalisation."
        ),
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
        "too_short, too_long, echoes_feedback or other_language (results stored before "
        "other_language may carry its former code, not_english)"
    )
    message: str = Field(description="What it means, in plain words for the student.")
    cap: float | None = Field(description="The highest score (0..1) the answer could keep.")


class ResultRead(BaseModel):
    """The full breakdown, for instructors and admins: criteria, phrasings, components."""

    view: Literal["full"] = Field(
        default="full", description="Which view this is: always `full` here."
    )
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


class FeedbackAdvisory(BaseModel):
    code: str = Field(description="Stable machine name, e.g. too_short or echoes_feedback.")
    message: str = Field(description="What it means, in plain words for the student.")


class CoveredIdea(BaseModel):
    feedback: str = Field(description="The teacher's comment on an idea the answer covers.")
    your_words: list[SpanRead] = Field(
        description="Where the answer covers it: the student's own words, never rubric text."
    )


class MissedIdea(BaseModel):
    hint: str = Field(description="The teacher's hint for an idea the answer misses.")


class StudentResultRead(BaseModel):
    """The student-safe view of a machine score, for students and integrations.

    It never contains criterion descriptions, rubric phrasings, reference answers or their
    words, background text, weights, components or calibration: only the score, the
    teacher's feedback on what the answer covers (with the student's own words that earned
    it), the teacher's hints for what it misses, and advisories in plain words. Ideas of a
    question whose criteria were derived from its reference answers are reported as counts.
    """

    view: Literal["student"] = Field(
        default="student", description="Which view this is: always `student` here."
    )
    points: float
    max_points: float
    score: float = Field(ge=0, le=1, description="points / max_points")
    needs_review: bool = Field(description="A teacher will look at this answer.")
    summary: str
    covered: list[CoveredIdea]
    missed: list[MissedIdea]
    advisories: list[FeedbackAdvisory]
    rubric_version: int
    scorer_version: str
    scored_at: datetime


# Instructors and admins get ``ResultRead`` (view "full"); integrations, callbacks and
# students get ``StudentResultRead`` (view "student"). The ``view`` field tells them apart.
AnyResultRead = Annotated[ResultRead | StudentResultRead, Field(discriminator="view")]


# ``error``: scoring kept failing after every retry; the answer is stored, for hand grading.
SubmissionStatus = Literal["scored", "pending", "error"]


# A student's view of a scored answer, shared by the examples below.
_STUDENT_RESULT_EXAMPLE: JsonValue = {
    "view": "student",
    "points": 5.0,
    "max_points": 5.0,
    "score": 1.0,
    "needs_review": False,
    "summary": "You scored 5 out of 5 and covered 1 of 1 key ideas.",
    "covered": [
        {
            "feedback": "You named the products.",
            "your_words": [{"start": 12, "end": 19, "text": "glucose"}],
        }
    ],
    "missed": [],
    "advisories": [],
    "rubric_version": 2,
    "scorer_version": "2.4.0",
    "scored_at": "2026-12-02T15:08:37.181004Z",
}


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_SUBMISSION_READ_EXAMPLES: list[JsonValue] = [
    {
        "id": "807168fa-372a-44af-b1fb-402838885c49",
        "question_id": "photosynthesis-1",
        "learner_id": "moodle-user-4821",
        "answer": "Plants make glucose and oxygen from carbon dioxide and water, using light "
        "energy.",
        "status": "scored",
        "created_at": "2026-12-02T15:08:37.179698Z",
        "points": 5.0,
        "max_points": 5.0,
        "overridden": False,
        "needs_review": False,
        "result": _STUDENT_RESULT_EXAMPLE,
        "feedback_url": "https://grader.riverside.example/v1/feedback/HHb9UKqYfyuZF8wayORUQe970ZSDxD5VU_xnpHtcNrA",
        "message": None,
        "feedback_released": True,
        "scoring_error": None,
    },
    {
        "id": "807168fa-372a-44af-b1fb-402838885c49",
        "question_id": "photosynthesis-1",
        "learner_id": "moodle-user-4821",
        "answer": "Plants make glucose and oxygen from carbon dioxide and water, using light "
        "energy.",
        "status": "scored",
        "created_at": "2026-12-02T15:08:37.179698Z",
        "points": 5.0,
        "max_points": 5.0,
        "overridden": False,
        "needs_review": False,
        "result": {
            "view": "full",
            "points": 5.0,
            "max_points": 5.0,
            "score": 1.0,
            "components": {"keyword_coverage": 1.0, "tfidf_similarity": 0.9364},
            "weights": {"keywords": 0.7, "similarity": 0.3},
            "model": "default",
            "confidence": 0.7774,
            "needs_review": False,
            "advisories": [],
            "criteria": [
                {
                    "id": "products",
                    "description": "Names glucose (sugar) and oxygen as the products",
                    "weight": 2.0,
                    "met": True,
                    "matched_phrasing": "glucose",
                    "matched_words": ["glucose"],
                    "spans": [{"start": 12, "end": 19, "text": "glucose"}],
                    "feedback": "You named the products.",
                }
            ],
            "summary": "You scored 5 out of 5 and covered 1 of 1 key ideas.",
            "rubric_version": 2,
            "scorer_version": "2.4.0",
            "scored_at": "2026-12-02T15:08:37.181004Z",
        },
        "feedback_url": None,
        "message": None,
        "feedback_released": True,
        "scoring_error": None,
    },
]


class SubmissionRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _SUBMISSION_READ_EXAMPLES})

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
    result: AnyResultRead | None = Field(
        description="The newest machine score; null while pending. Instructors and admins get "
        "the full breakdown (`view: full`); integrations the student-safe view "
        "(`view: student`)."
    )
    feedback_url: str | None = Field(
        default=None,
        description="The student's own feedback page (no key needed; share it). Only in the "
        "response that created the submission (or a new link): the service keeps only a hash.",
    )
    message: str | None = Field(
        default=None,
        description="Set when the answer is stored but not yet scored, or its feedback is "
        "not released yet.",
    )
    feedback_released: bool = Field(
        default=True,
        description="False until the question releases feedback: points and result are then "
        "held back from integrations (staff always see them).",
    )
    scoring_error: str | None = Field(
        default=None,
        description="Why scoring gave up (status `error`): a short reason; hand-grade it "
        "with an override.",
    )


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_FEEDBACK_READ_EXAMPLES: list[JsonValue] = [
    {
        "question_prompt": "What do plants make in photosynthesis, and from what?",
        "answer": "Plants make glucose and oxygen from carbon dioxide and water, using light "
        "energy.",
        "status": "scored",
        "submitted_at": "2026-12-02T15:08:37.179698Z",
        "points": 5.0,
        "max_points": 5.0,
        "adjusted_by_instructor": False,
        "result": _STUDENT_RESULT_EXAMPLE,
        "message": None,
        "released": True,
        "feedback_available_at": None,
    }
]


class FeedbackRead(BaseModel):
    """What a student sees: their own answer, score and feedback; no rubric internals."""

    model_config = ConfigDict(json_schema_extra={"examples": _FEEDBACK_READ_EXAMPLES})

    question_prompt: str
    answer: str
    status: SubmissionStatus
    submitted_at: datetime
    points: float | None = Field(description="Effective points (an instructor's, if adjusted).")
    max_points: float | None
    adjusted_by_instructor: bool
    result: StudentResultRead | None = Field(
        description="The student-safe view of the machine score; null while pending."
    )
    message: str | None = None
    released: bool = Field(
        default=True,
        description="False until the question releases feedback: then only the answer is shown.",
    )
    feedback_available_at: datetime | None = Field(
        default=None, description="Before release: when feedback becomes available, if known."
    )


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_SUBMISSION_PAGE_EXAMPLES: list[JsonValue] = [
    {
        "items": [
            {
                "id": "fb9076db-4b7b-4d4e-a5aa-c3a05f173879",
                "question_id": "photosynthesis-1",
                "learner_id": "moodle-user-4822",
                "answer": "They make sugar.",
                "status": "scored",
                "created_at": "2026-12-02T15:08:37.242577Z",
                "points": 3.5,
                "max_points": 5.0,
                "overridden": False,
                "needs_review": False,
                "result": {
                    "view": "full",
                    "points": 3.5,
                    "max_points": 5.0,
                    "score": 0.7,
                    "components": {"keyword_coverage": 1.0, "tfidf_similarity": 0.0},
                    "weights": {"keywords": 0.7, "similarity": 0.3},
                    "model": "default",
                    "confidence": 0.5,
                    "needs_review": False,
                    "advisories": [],
                    "criteria": [
                        {
                            "id": "products",
                            "description": "Names glucose (sugar) and oxygen as the products",
                            "weight": 2.0,
                            "met": True,
                            "matched_phrasing": "sugar",
                            "matched_words": ["sugar"],
                            "spans": [{"start": 10, "end": 15, "text": "sugar"}],
                            "feedback": "You named the products.",
                        }
                    ],
                    "summary": "You scored 3.5 out of 5 and covered 1 of 1 key ideas.",
                    "rubric_version": 2,
                    "scorer_version": "2.4.0",
                    "scored_at": "2026-12-02T15:08:37.242897Z",
                },
                "feedback_url": None,
                "message": None,
                "feedback_released": True,
                "scoring_error": None,
            }
        ],
        "next_cursor": (
            "WyItY3JlYXRlZF9hdCIsICIyMDI2LTEyLTAyVDE1OjA4OjM3LjI0MjU3NyswMDowMCIsICJmYjkw"
            "NzZkYi00YjdiLTRkNGUtYTVhYS1jM2EwNWYxNzM4NzkiXQ"
        ),
    }
]


class SubmissionPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _SUBMISSION_PAGE_EXAMPLES})

    items: list[SubmissionRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


def _in_utc(value: datetime) -> datetime:
    """UTC, the zone stored times are compared in; refused if UTC has no such time."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00+01:00 or 9999-12-31T23:30-01:00: valid input, but outside the
        # years 1-9999 once in UTC, where the comparison with stored times would overflow.
        raise ValueError("is outside the years 1 to 9999 in UTC") from None


# A naive time would be compared in whatever zone the database assumes: refused (422), as
# is a time that does not exist in UTC, so a filter never reaches the database and fails
# there (a 500, or an export cut off after its header row).
FilterDateTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]

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
    created_after: FilterDateTime | None = Field(
        default=None, description="Created at or after this time (ISO 8601 with a timezone)."
    )
    created_before: FilterDateTime | None = Field(
        default=None, description="Created before this time (ISO 8601 with a timezone)."
    )
    api_key_id: uuid.UUID | None = Field(default=None, description="Posted by this API key.")
    sort: SortOrder = Field(default="-created_at", description="Prefix '-' for descending.")


class SubmissionListQuery(SubmissionFilter):
    cursor: Annotated[str | None, Field(max_length=1024)] = Field(
        default=None, description="The next_cursor of the previous page."
    )
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_FEEDBACK_LINK_READ_EXAMPLES: list[JsonValue] = [
    {
        "submission_id": "807168fa-372a-44af-b1fb-402838885c49",
        "feedback_url": "https://grader.riverside.example/v1/feedback/GVc24CwYgSrxL6xTDy3xKYvBhxowx63jiT8JsvJtioU",
        "issued_at": "2026-12-02T15:08:37.313168Z",
        "expires_at": None,
    }
]


class FeedbackLinkRead(BaseModel):
    """A new feedback link, shown once: the service stores only a hash of its token."""

    model_config = ConfigDict(json_schema_extra={"examples": _FEEDBACK_LINK_READ_EXAMPLES})

    submission_id: uuid.UUID
    feedback_url: str
    issued_at: datetime
    expires_at: datetime | None = Field(description="Null: the link does not expire.")
