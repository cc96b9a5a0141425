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
