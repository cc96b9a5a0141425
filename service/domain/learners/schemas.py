"""What an admin gets back when exporting or deleting one learner's data."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue


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


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_LEARNER_EXPORT_EXAMPLES: list[JsonValue] = [
    {
        "learner_id": "moodle-user-4821",
        "organization_id": "47a32569-3947-473d-8b14-fb164915776c",
        "exported_at": "2026-12-02T15:08:37.798414Z",
        "submissions": [
            {
                "id": "807168fa-372a-44af-b1fb-402838885c49",
                "question_id": "photosynthesis-1",
                "created_at": "2026-12-02T15:08:37.179698Z",
                "answer": "Plants make glucose and oxygen from carbon dioxide and "
                "water, using light energy.",
                "status": "scored",
                "points": 4.0,
                "machine_points": 5.0,
                "max_points": 5.0,
                "needs_review": False,
                "is_overridden": True,
                "feedback_link": {"issued": True},
                "results": [
                    {
                        "id": 1,
                        "created_at": "2026-12-02T15:08:37.181004Z",
                        "rubric_version": 2,
                        "engine_version": "2.4.0",
                        "points": 5.0,
                        "max_points": 5.0,
                        "score": 1.0,
                        "keyword_coverage": 1.0,
                        "similarity": 0.9364,
                        "model": "default",
                        "confidence": 0.7774,
                        "needs_review": False,
                        "advisories": [],
                        "details": {
                            "raw": 0.9809,
                            "summary": "You scored 5 out of 5 and covered 1 of 1 key ideas.",
                            "weights": {"keywords": 0.7, "similarity": 0.3},
                            "components": {
                                "keyword_coverage": 1.0,
                                "term_coverage": 0.8889,
                                "similarity": 0.9351,
                                "char_similarity": 0.9377,
                                "length_ratio": 0.0,
                                "precision": 1.0,
                                "question_overlap": 0.2,
                                "neighbour_mean": 0.0,
                                "neighbour_top": 0.0,
                                "neighbour_similarity": 0.0,
                                "neighbour_char_mean": 0.0,
                                "neighbour_high_similarity": 0.0,
                                "neighbour_low_similarity": 0.0,
                                "graded_mean": 0.0,
                                "similarity_percentile": 0.0,
                                "coverage_percentile": 0.0,
                                "neighbour_kernel": 0.0,
                                "neighbour_kernel_words": 0.0,
                                "neighbour_kernel_chars": 0.0,
                                "negation_mismatch": 0.0,
                                "polarity_flips": 0.0,
                                "negation_difference": 0.0,
                            },
                            "neighbour_score": None,
                            "advisories": [],
                            "criteria": [
                                {
                                    "id": "products",
                                    "description": "Names glucose "
                                    "(sugar) and "
                                    "oxygen as the "
                                    "products",
                                    "weight": 2.0,
                                    "met": True,
                                    "matched_phrasing": "glucose",
                                    "spans": [{"start": 12, "end": 19, "text": "glucose"}],
                                    "feedback": "You named the products.",
                                }
                            ],
                        },
                    }
                ],
                "overrides": [
                    {
                        "id": 1,
                        "created_at": "2026-12-02T15:08:37.423004Z",
                        "old_points": 5.0,
                        "new_points": 4.0,
                        "reason": "Full answer: names both products and both inputs.",
                        "by_key_id": "deca4709-2dfe-4ef9-ab96-5ef630cd259d",
                    }
                ],
                "callback_deliveries": [],
            }
        ],
        "calibration_copies": [{"question_id": "photosynthesis-1", "rubric_versions": [3]}],
    }
]


class LearnerExport(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _LEARNER_EXPORT_EXAMPLES})

    learner_id: str
    organization_id: str
    exported_at: datetime
    submissions: list[SubmissionExport]
    calibration_copies: list[CalibrationCopy]


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_LEARNER_DELETED_EXAMPLES: list[JsonValue] = [
    {
        "submissions": 1,
        "grading_results": 1,
        "score_overrides": 1,
        "callback_deliveries": 0,
        "feedback_tokens": 1,
        "idempotency_records": 0,
        "graded_answers_removed": 1,
        "rubric_versions_scrubbed": 1,
        "rubric_versions_created": 1,
    }
]


class LearnerDeleted(BaseModel):
    """Counts of what was deleted; the audit row stores the same counts."""

    model_config = ConfigDict(json_schema_extra={"examples": _LEARNER_DELETED_EXAMPLES})

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
