"""The pilot's request and response shapes (API and console alike)."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from service.domain.reviews.schemas import Reason

# The API reference's examples (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks them against the schema.
_PILOT_GRADE_EXAMPLES: list[JsonValue] = [
    {
        "submission_id": "807168fa-372a-44af-b1fb-402838885c49",
        "points": 3,
        "reason": "Names both products; misses where the energy comes from.",
    }
]
_PILOT_READ_EXAMPLES: list[JsonValue] = [
    {
        "question_id": "photosynthesis-1",
        "answers": 42,
        "next": {
            "submission_id": "0b9fd0d5-5d0c-4a55-9d27-0c1f4c0b8f0e",
            "answer": "Plants make sugar from sunlight.",
            "machine_points": 1.5,
            "max_points": 4.0,
        },
        "graded": 7,
        "agreement": {
            "n": 7,
            "metric": "pearson",
            "value": 0.81,
            "low": 0.55,
            "high": 0.93,
            "mean_abs_error": 0.09,
            "established": False,
        },
        "calibrated": None,
        "calibrated_now": False,
        "min_to_calibrate": 5,
    }
]


class PilotGradeCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _PILOT_GRADE_EXAMPLES}, extra="forbid")

    submission_id: uuid.UUID = Field(description="An answer of this question (usually `next`).")
    points: Annotated[
        float, Field(ge=0, allow_inf_nan=False, description="The teacher's points for the answer.")
    ]
    reason: Reason | None = Field(
        default=None,
        description="Why (audited with the override); a standard reason when left out.",
    )


class PilotProposal(BaseModel):
    submission_id: uuid.UUID
    answer: str
    machine_points: float = Field(description="The machine's points for the answer.")
    max_points: float


class PilotAgreement(BaseModel):
    n: int = Field(description="Teacher grades the agreement rests on.")
    metric: str = Field(description="`pearson` (numeric scores) or `accuracy` (labels).")
    value: float | None = Field(description="None while there are too few grades to say.")
    low: float | None = Field(description="Lower end of the interval (90%).")
    high: float | None = Field(description="Upper end of the interval (90%).")
    mean_abs_error: float | None = Field(
        description="Mean absolute difference, in fractions of the maximum points."
    )
    established: bool = Field(description="The machine's agreement with the teacher is shown.")


class PilotCalibration(BaseModel):
    version: int = Field(description="The question's current, calibrated rubric version.")
    n: int = Field(description="Graded answers the calibration was fitted on.")


class PilotRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _PILOT_READ_EXAMPLES})

    question_id: str
    answers: int = Field(description="Scored answers the pilot chooses from (the newest).")
    next: PilotProposal | None = Field(description="The answer to grade next; null when none.")
    graded: int = Field(description="Answers of the question a teacher graded (overrides).")
    agreement: PilotAgreement
    calibrated: PilotCalibration | None = Field(
        description="The current rubric version's calibration; null when it has none."
    )
    calibrated_now: bool = Field(
        default=False,
        description="True when this grade established agreement and calibrated the question.",
    )
    min_to_calibrate: int = Field(description="Fewest teacher grades a calibration accepts.")
