from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class QuestionRead(BaseModel):
    """What any caller may see of a question: never the reference answers or phrasings."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    prompt: str
    max_points: float
    score_step: float
    rubric_version: int


class QuestionList(BaseModel):
    items: list[QuestionRead]
