from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

ReleaseModeName = Literal["immediately", "after_close", "manual"]


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_FEEDBACK_RELEASE_UPDATE_EXAMPLES: list[JsonValue] = [
    {"mode": "manual"},
    {"mode": "after_close", "close_at": "2026-12-18T16:00:00+01:00"},
]


class FeedbackReleaseUpdate(BaseModel):
    """When students and integrations see scores and feedback (Moodle's review options)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": _FEEDBACK_RELEASE_UPDATE_EXAMPLES}, extra="forbid"
    )

    mode: ReleaseModeName
    close_at: AwareDatetime | None = Field(
        default=None,
        description="With mode after_close: when feedback opens (with a timezone offset).",
    )


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_FEEDBACK_RELEASE_READ_EXAMPLES: list[JsonValue] = [
    {"mode": "manual", "close_at": None, "released_at": None, "released": False},
    {
        "mode": "manual",
        "close_at": None,
        "released_at": "2026-12-02T15:08:37.673028Z",
        "released": True,
    },
]


class FeedbackReleaseRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _FEEDBACK_RELEASE_READ_EXAMPLES})

    mode: ReleaseModeName
    close_at: datetime | None
    released_at: datetime | None = Field(description="When an instructor released it.")
    released: bool = Field(description="Students and integrations see scores and feedback now.")


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_QUESTION_PUBLIC_READ_EXAMPLES: list[JsonValue] = [
    {
        "id": "photosynthesis-1",
        "title": "What photosynthesis makes",
        "prompt": "What do plants make in photosynthesis, and from what?",
        "max_points": 5.0,
        "score_step": 0.5,
    }
]


class QuestionPublicRead(BaseModel):
    """What an integration may see of a question, to build its activity list: never the
    rubric (criteria, phrasings, reference answers, background, calibration)."""

    model_config = ConfigDict(json_schema_extra={"examples": _QUESTION_PUBLIC_READ_EXAMPLES})

    id: str = Field(description="The question's id, unique in its organisation.")
    title: str
    prompt: str
    max_points: float
    score_step: float


# Feedback shown as soon as an answer is scored (the default release), for the examples.
_RELEASED_AT_ONCE: JsonValue = {
    "mode": "immediately",
    "close_at": None,
    "released_at": None,
    "released": True,
}
# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_QUESTION_EXAMPLE: JsonValue = {
    "id": "photosynthesis-1",
    "title": "What photosynthesis makes",
    "prompt": "What do plants make in photosynthesis, and from what?",
    "max_points": 5.0,
    "score_step": 0.5,
    "course_id": "default",
    "rubric_version": 2,
    "feedback_release": _RELEASED_AT_ONCE,
}
_QUESTION_READ_EXAMPLES: list[JsonValue] = [_QUESTION_EXAMPLE]


class QuestionRead(QuestionPublicRead):
    """What staff see of a question (the rubric itself: GET .../rubric-versions)."""

    model_config = ConfigDict(json_schema_extra={"examples": _QUESTION_READ_EXAMPLES})

    course_id: str = Field(description="The course the question belongs to.")
    rubric_version: int
    feedback_release: FeedbackReleaseRead | None = None


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_QUESTION_LIST_EXAMPLES: list[JsonValue] = [
    {
        "items": [
            {
                "id": "backchannel-q1",
                "title": "Backchannels and decision-making in the Cuban Missile Crisis",
                "prompt": "How did backchannel communications impact the decision-making "
                "process during the Cuban Missile Crisis?",
                "max_points": 10.0,
                "score_step": 0.5,
                "course_id": "default",
                "rubric_version": 1,
                "feedback_release": _RELEASED_AT_ONCE,
            },
            {
                "id": "backchannel-q2",
                "title": "How effective were backchannels in the Cuban Missile Crisis?",
                "prompt": "Evaluate the effectiveness of backchannel communications as a "
                "strategy during high-stakes international crises like the Cuban "
                "Missile Crisis.",
                "max_points": 10.0,
                "score_step": 0.5,
                "course_id": "default",
                "rubric_version": 1,
                "feedback_release": _RELEASED_AT_ONCE,
            },
            {
                "id": "backchannel-q3",
                "title": "Backchannel outcomes and later US-Soviet relations",
                "prompt": "Assess how the outcomes of backchannel communications during the "
                "Cuban Missile Crisis influenced future diplomatic relations "
                "between the U.S. and Soviet Union.",
                "max_points": 10.0,
                "score_step": 0.5,
                "course_id": "default",
                "rubric_version": 1,
                "feedback_release": _RELEASED_AT_ONCE,
            },
            _QUESTION_EXAMPLE,
        ]
    }
]


class QuestionList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _QUESTION_LIST_EXAMPLES})

    items: list[QuestionRead | QuestionPublicRead]
