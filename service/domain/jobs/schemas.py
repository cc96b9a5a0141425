from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: Literal["rescore"] = "rescore"
    question_id: str
    rubric_version: int
    status: Literal["queued", "running", "succeeded", "failed"]
    total: int = Field(description="Submissions of the question when the job was created.")
    processed: int
    changed: int = Field(description="Submissions whose machine score changed.")
    failed: int = Field(description="Submissions the engine could not score (left as they were).")
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ChangeBucket(BaseModel):
    label: str = Field(description="A range of change in points, e.g. '-1 to -2'.")
    count: int


class LearnerChange(BaseModel):
    submission_id: uuid.UUID
    learner_id: str
    before: float | None
    after: float


class RescorePreview(BaseModel):
    """What a rescoring with the current rubric would do, computed without writing."""

    question_id: str
    rubric_version: int
    total: int = Field(description="Submissions of the question.")
    examined: int = Field(description="The newest submissions scored for this preview.")
    would_change: int = Field(description="Examined answers whose effective points change.")
    unchanged: int
    overridden_kept: int = Field(
        description="Examined answers whose machine score changes but an instructor's stays."
    )
    failed: int
    mean_abs_change: float | None
    max_abs_change: float | None
    buckets: list[ChangeBucket]
    before: list[tuple[float, int]] = Field(description="Effective points before, by value.")
    after: list[tuple[float, int]] = Field(description="Effective points after, by value.")
    learners: list[LearnerChange] = Field(description="Up to 50 learners whose score changes.")
