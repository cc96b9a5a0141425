from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ReleaseModeName = Literal["immediately", "after_close", "manual"]


class FeedbackReleaseUpdate(BaseModel):
    """When students and integrations see scores and feedback (Moodle's review options)."""

    model_config = ConfigDict(extra="forbid")

    mode: ReleaseModeName
    close_at: AwareDatetime | None = Field(
        default=None,
        description="With mode after_close: when feedback opens (with a timezone offset).",
    )


class FeedbackReleaseRead(BaseModel):
    mode: ReleaseModeName
    close_at: datetime | None
    released_at: datetime | None = Field(description="When an instructor released it.")
    released: bool = Field(description="Students and integrations see scores and feedback now.")


class QuestionPublicRead(BaseModel):
    """What an integration may see of a question, to build its activity list: never the
    rubric (criteria, phrasings, reference answers, background, calibration)."""

    id: str = Field(description="The question's id, unique in its organisation.")
    title: str
    prompt: str
    max_points: float
    score_step: float


class QuestionRead(QuestionPublicRead):
    """What staff see of a question (the rubric itself: GET .../rubric-versions)."""

    course_id: str = Field(description="The course the question belongs to.")
    rubric_version: int
    feedback_release: FeedbackReleaseRead | None = None


class QuestionList(BaseModel):
    items: list[QuestionRead | QuestionPublicRead]
