from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_JOB_READ_EXAMPLES: list[JsonValue] = [
    {
        "id": "5ab1f231-e8ea-49f7-acd3-e3d50f604f59",
        "kind": "rescore",
        "question_id": "photosynthesis-1",
        "rubric_version": 3,
        "status": "queued",
        "total": 2,
        "processed": 0,
        "changed": 0,
        "failed": 0,
        "error": None,
        "created_at": "2026-12-02T15:08:37.642444Z",
        "started_at": None,
        "finished_at": None,
    },
    {
        "id": "5ab1f231-e8ea-49f7-acd3-e3d50f604f59",
        "kind": "rescore",
        "question_id": "photosynthesis-1",
        "rubric_version": 3,
        "status": "queued",
        "total": 2,
        "processed": 0,
        "changed": 0,
        "failed": 0,
        "error": None,
        "created_at": "2026-12-02T15:08:37.642444Z",
        "started_at": None,
        "finished_at": None,
    },
]


class JobRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": _JOB_READ_EXAMPLES}, from_attributes=True
    )

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


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_RESCORE_PREVIEW_EXAMPLES: list[JsonValue] = [
    {
        "question_id": "photosynthesis-1",
        "rubric_version": 2,
        "total": 2,
        "examined": 2,
        "would_change": 0,
        "unchanged": 2,
        "overridden_kept": 0,
        "failed": 0,
        "mean_abs_change": None,
        "max_abs_change": None,
        "buckets": [
            {"label": "-3+", "count": 0},
            {"label": "-2", "count": 0},
            {"label": "-1", "count": 0},
            {"label": "0", "count": 2},
            {"label": "+1", "count": 0},
            {"label": "+2", "count": 0},
            {"label": "+3+", "count": 0},
        ],
        "before": [[3.5, 1], [4.0, 1]],
        "after": [[3.5, 1], [4.0, 1]],
        "learners": [],
    }
]


class RescorePreview(BaseModel):
    """What a rescoring with the current rubric would do, computed without writing."""

    model_config = ConfigDict(json_schema_extra={"examples": _RESCORE_PREVIEW_EXAMPLES})

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
