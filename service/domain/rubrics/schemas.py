"""The rubric document: what a file in ``rubrics/`` (or, later, an API body) contains."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from service.domain.validation import reject_control_characters

Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=1, max_length=64)
]
# No NUL/control characters or lone surrogates: PostgreSQL cannot store them (was a 500).
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1),
    AfterValidator(reject_control_characters),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedbackDoc(_Strict):
    hit: Text
    miss: Text


class CriterionDoc(_Strict):
    id: Slug
    description: Text
    weight: Annotated[float, Field(gt=0, le=100)] = 1.0
    phrasings: Annotated[list[Text], Field(min_length=1, max_length=100)]
    feedback: FeedbackDoc


class WeightsDoc(_Strict):
    """Blend of keyword coverage and TF-IDF similarity.

    Default 0.7 / 0.3: criteria are authored by the teacher and say *which* ideas count,
    while TF-IDF only measures shared vocabulary and penalises a correct answer in other
    words, so it refines rather than decides the score.
    """

    keywords: Annotated[float, Field(ge=0, le=1)] = 0.7
    similarity: Annotated[float, Field(ge=0, le=1)] = 0.3

    @model_validator(mode="after")
    def _sum_to_one(self) -> WeightsDoc:
        if abs(self.keywords + self.similarity - 1) > 1e-6:
            raise ValueError("keywords and similarity must sum to 1")
        return self


class GradedAnswerDoc(_Strict):
    """An answer an instructor graded: a scored neighbour for new answers, and training
    data for the calibration."""

    answer: Annotated[
        str,
        StringConstraints(min_length=1, max_length=10_000),
        AfterValidator(reject_control_characters),
    ]
    points: Annotated[float, Field(ge=0)]


class RubricDocument(_Strict):
    id: Slug
    title: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
        AfterValidator(reject_control_characters),
    ]
    prompt: Text
    max_points: Annotated[float, Field(gt=0, le=1000)]
    score_step: Annotated[float, Field(gt=0)] = 0.5
    weights: WeightsDoc = WeightsDoc()
    reference_answers: Annotated[list[Text], Field(min_length=1, max_length=50)]
    # Domain text the TF-IDF model is fitted on together with the reference answers.
    background: Annotated[str, AfterValidator(reject_control_characters)] = ""
    # Without authored criteria, the engine derives them from the reference answers.
    criteria: Annotated[list[CriterionDoc], Field(max_length=50)] = []
    graded_answers: Annotated[list[GradedAnswerDoc], Field(max_length=5000)] = []
    # A fitted ``service.scoring.Calibration`` as plain data (``to_dict``), or none: the
    # default weights score. Written by the calibrate endpoint, not by hand.
    calibration: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _graded_within_scale(self) -> RubricDocument:
        for index, graded in enumerate(self.graded_answers):
            if graded.points > self.max_points:
                raise ValueError(
                    f"graded_answers[{index}].points {graded.points:g} is above max_points"
                )
        return self

    def canonical_json(self) -> str:
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON: equal rubrics hash equal whatever the YAML layout."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


class RubricVersionRead(BaseModel):
    version: int
    content_hash: str
    source: str
    created_at: datetime
    rubric: dict[str, Any] = Field(description="The rubric document of this version.")


class RubricVersionList(BaseModel):
    question_id: str
    items: list[RubricVersionRead]


class CalibrateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    use_overrides: bool = Field(
        default=True, description="Learn from submissions whose score an instructor overrode."
    )
    graded_answers: Annotated[list[GradedAnswerDoc], Field(max_length=5000)] = Field(
        default=[], description="More answers with the points an instructor gave them."
    )


class CalibrationRead(BaseModel):
    question_id: str
    rubric_version: int = Field(description="The new rubric version; rescore to apply it.")
    graded_answers: int = Field(description="Graded answers the version now learns from.")
    calibrated: bool = Field(
        description="True when there were enough graded answers to fit a calibration; "
        "otherwise the default weights keep scoring (graded answers still serve as neighbours)."
    )
    min_examples: int


class RubricSaved(BaseModel):
    question_id: str
    rubric_version: int
    created: bool = Field(description="False when the rubric was identical to the current one.")
