from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from service.domain.validation import reject_blank, reject_control_characters

Reason = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000),
    AfterValidator(reject_control_characters),
    AfterValidator(reject_blank),
]


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_OVERRIDE_CREATE_EXAMPLES: list[JsonValue] = [
    {"points": 4, "reason": "Full answer: names both products and both inputs."}
]


class OverrideCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": _OVERRIDE_CREATE_EXAMPLES}, extra="forbid"
    )

    points: Annotated[float, Field(ge=0, description="The new effective points.")]
    reason: Annotated[Reason, Field(description="Why the machine score was changed (audited).")]


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_OVERRIDE_READ_EXAMPLES: list[JsonValue] = [
    {
        "id": 1,
        "submission_id": "807168fa-372a-44af-b1fb-402838885c49",
        "old_points": 5.0,
        "new_points": 4.0,
        "reason": "Full answer: names both products and both inputs.",
        "created_at": "2026-12-02T15:08:37.423004Z",
        "by_key_id": "deca4709-2dfe-4ef9-ab96-5ef630cd259d",
        "by_key_name": "bootstrap admin",
    }
]


class OverrideRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": _OVERRIDE_READ_EXAMPLES}, from_attributes=True
    )

    id: int
    submission_id: uuid.UUID
    old_points: float | None
    new_points: float
    reason: str
    reverts_override_id: int | None = Field(
        default=None, description="Set on a revert: the override it undid."
    )
    answer_group_id: uuid.UUID | None = Field(
        default=None, description="Set when made by grading an answer group."
    )
    created_at: datetime
    # The key that made it; null when an instructor signed in by an LTI launch made it.
    by_key_id: uuid.UUID | None = Field(validation_alias="api_key_id")
    # The key's name, or the instructor's name as the LMS gave it.
    by_key_name: str


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_OVERRIDE_LIST_EXAMPLES: list[JsonValue] = [
    {
        "items": [
            {
                "id": 1,
                "submission_id": "807168fa-372a-44af-b1fb-402838885c49",
                "old_points": 5.0,
                "new_points": 4.0,
                "reason": "Full answer: names both products and both inputs.",
                "created_at": "2026-12-02T15:08:37.423004Z",
                "by_key_id": "deca4709-2dfe-4ef9-ab96-5ef630cd259d",
                "by_key_name": "bootstrap admin",
            }
        ]
    }
]


class OverrideList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _OVERRIDE_LIST_EXAMPLES})

    items: list[OverrideRead]


class Distribution(BaseModel):
    points: float
    count: int


class CriterionStats(BaseModel):
    id: str
    description: str
    hit_rate: float = Field(description="Share of scored submissions that met this criterion.")


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_QUESTION_STATS_EXAMPLES: list[JsonValue] = [
    {
        "question_id": "photosynthesis-1",
        "submissions": 2,
        "scored": 2,
        "pending": 0,
        "mean_points": 3.75,
        "median_points": 3.75,
        "stdev_points": 0.25,
        "min_points": 3.5,
        "max_points": 4.0,
        "max_possible": 5.0,
        "distribution": [{"points": 3.5, "count": 1}, {"points": 4.0, "count": 1}],
        "criteria": [
            {
                "id": "products",
                "description": "Names glucose (sugar) and oxygen as the products",
                "hit_rate": 1.0,
            }
        ],
        "criteria_sample": 2,
        "needs_review": 0,
        "overridden": 1,
        "override_rate": 0.5,
        "mean_override_difference": -1.0,
    }
]


class QuestionStats(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _QUESTION_STATS_EXAMPLES})

    question_id: str
    submissions: int
    scored: int
    pending: int
    mean_points: float | None
    median_points: float | None
    stdev_points: float | None
    min_points: float | None
    max_points: float | None
    max_possible: float
    distribution: list[Distribution] = Field(description="Effective points, by value.")
    criteria: list[CriterionStats] = Field(
        description="Current rubric's criteria, most often missed first."
    )
    criteria_sample: int = Field(
        default=0,
        description="How many of the newest scored answers the hit rates are measured on "
        "(at most 200).",
    )
    needs_review: int
    overridden: int
    override_rate: float | None
    mean_override_difference: float | None = Field(
        description="Mean of (instructor points - machine points) over overridden submissions."
    )
