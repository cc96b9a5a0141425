"""What an admin gets back when exporting or deleting one learner's data."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ResultExport(BaseModel):
    id: int
    created_at: datetime
    rubric_version: int
    engine_version: str
    points: float
    max_points: float
    score: float
    keyword_coverage: float
    similarity: float
    model: str
    confidence: float | None
    needs_review: bool
    advisories: list[str]
    details: dict[str, Any] = Field(description="Per-criterion results with evidence spans.")


class OverrideExport(BaseModel):
    id: int
    created_at: datetime
    old_points: float | None
    new_points: float
    reason: str
    by_key_id: uuid.UUID


class DeliveryExport(BaseModel):
    id: uuid.UUID
    created_at: datetime
    event: str
    status: str
    attempts: int
    delivered_at: datetime | None


class FeedbackLinkExport(BaseModel):
    # The token itself is a credential: the export says whether a link exists, not its value.
    issued: bool = Field(description="Whether a student feedback link exists for it.")


class SubmissionExport(BaseModel):
    id: uuid.UUID
    question_id: str
    created_at: datetime
    answer: str
    status: str
    points: float | None
    machine_points: float | None
    max_points: float | None
    needs_review: bool
    is_overridden: bool
    feedback_link: FeedbackLinkExport
    results: list[ResultExport] = Field(description="Every machine scoring, newest first.")
    overrides: list[OverrideExport] = Field(description="Instructor changes, oldest first.")
    callback_deliveries: list[DeliveryExport]


class CalibrationCopy(BaseModel):
    question_id: str
    rubric_versions: list[int] = Field(
        description="Rubric versions whose graded answers contain one of the learner's answers."
    )


class LearnerExport(BaseModel):
    learner_id: str
    organization_id: str
    exported_at: datetime
    submissions: list[SubmissionExport]
    calibration_copies: list[CalibrationCopy]


class LearnerDeleted(BaseModel):
    """Counts of what was deleted; the audit row stores the same counts."""

    submissions: int
    grading_results: int
    score_overrides: int
    callback_deliveries: int
    feedback_tokens: int
    idempotency_records: int
    graded_answers_removed: int = Field(description="Copies removed from calibration data.")
    rubric_versions_scrubbed: int = Field(
        description="Existing rubric versions whose graded answers were rewritten in place."
    )
    rubric_versions_created: int = Field(
        description="New current rubric versions written without the learner's answers."
    )
