from __future__ import annotations

from pydantic import BaseModel, Field


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


class QuestionList(BaseModel):
    items: list[QuestionRead | QuestionPublicRead]
