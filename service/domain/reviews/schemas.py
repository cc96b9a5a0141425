from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from service.domain.validation import reject_blank, reject_control_characters

Reason = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000),
    AfterValidator(reject_control_characters),
    AfterValidator(reject_blank),
]


class OverrideCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: Annotated[float, Field(ge=0, description="The new effective points.")]
    reason: Annotated[Reason, Field(description="Why the machine score was changed (audited).")]


class OverrideRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    submission_id: uuid.UUID
    old_points: float | None
    new_points: float
    reason: str
    created_at: datetime
    # The key that made it; null when an instructor signed in by an LTI launch made it.
    by_key_id: uuid.UUID | None = Field(validation_alias="api_key_id")
    # The key's name, or the instructor's name as the LMS gave it.
    by_key_name: str


class OverrideList(BaseModel):
    items: list[OverrideRead]


class Distribution(BaseModel):
    points: float
    count: int


class CriterionStats(BaseModel):
    id: str
    description: str
    hit_rate: float = Field(description="Share of scored submissions that met this criterion.")


class QuestionStats(BaseModel):
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
