"""Request and response shapes of answer groups."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from service.domain.reviews.schemas import Reason

# At most this many submissions per split or move: a request's work stays bounded.
MAX_SELECTED = 1000

_SUBMISSION = "807168fa-372a-44af-b1fb-402838885c49"
_GROUP = "3f0b6c3e-5a55-4c33-a1d2-0b8a3f4f9d10"
_CRITERION: dict[str, JsonValue] = {
    "id": "outcome",
    "description": "Says the talks helped avoid war",
    "met_by_representative": True,
    "members_met": 3,
}
_GROUP_EXAMPLE: dict[str, JsonValue] = {
    "id": _GROUP,
    "position": 1,
    "size": 3,
    "representative": {
        "submission_id": _SUBMISSION,
        "answer": "They sent secret messages, which helped them avoid war.",
    },
    "criteria": [_CRITERION],
    "min_points": 5.0,
    "max_points": 5.5,
    "overridden": 0,
    "manual": False,
    "computed_at": "2026-12-02T18:40:00.000000Z",
}


class GroupRepresentative(BaseModel):
    submission_id: uuid.UUID
    answer: str


class GroupCriterion(BaseModel):
    id: str
    description: str
    met_by_representative: bool
    members_met: int = Field(description="How many of the group's answers met it.")


class GroupRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_GROUP_EXAMPLE]})

    id: uuid.UUID
    position: int = Field(description="Order on the page: largest groups first.")
    size: int
    representative: GroupRepresentative | None = Field(
        description="The answer most central in the group."
    )
    criteria: list[GroupCriterion] = Field(
        description="The current rubric's criteria: met by the representative, and by how "
        "many members."
    )
    min_points: float | None = Field(description="Lowest machine score among the members.")
    max_points: float | None = Field(description="Highest machine score among the members.")
    overridden: int = Field(description="Members whose score an instructor overrode.")
    manual: bool = Field(description="Split off by an instructor.")
    computed_at: datetime


class GroupPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "question_id": "backchannel-q1",
                    "answers": 3,
                    "stale": False,
                    "total": 1,
                    "computed_at": "2026-12-02T18:40:00.000000Z",
                    "items": [_GROUP_EXAMPLE],
                    "next_cursor": None,
                }
            ]
        }
    )

    question_id: str
    answers: int = Field(description="Answers grouped (the newest scored ones, at most 5,000).")
    stale: bool = Field(
        description="The groups are out of date and being recomputed in the background "
        "(questions with more than 1,000 scored answers); ask again in a minute."
    )
    total: int = Field(description="Groups of the question.")
    computed_at: datetime | None
    items: list[GroupRead]
    next_cursor: str | None


class GroupMemberRead(BaseModel):
    submission_id: uuid.UUID
    learner_id: str
    answer: str
    points: float | None = Field(description="The effective score.")
    machine_points: float | None
    overridden: bool
    pinned: bool = Field(description="Put in this group by an instructor (a move or split).")
    criteria_met: list[str]


class GroupDetail(GroupRead):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_GROUP_EXAMPLE,
                    "members": [
                        {
                            "submission_id": _SUBMISSION,
                            "learner_id": "student-17",
                            "answer": "They sent secret messages, which helped them avoid war.",
                            "points": 5.0,
                            "machine_points": 5.0,
                            "overridden": False,
                            "pinned": False,
                            "criteria_met": ["outcome"],
                        }
                    ],
                    "members_truncated": False,
                }
            ]
        }
    )

    members: list[GroupMemberRead]
    members_truncated: bool = Field(description="More members than `limit` were left out.")


class GroupGrade(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "points": 6,
                    "reason": "Names the outcome and the secret channel.",
                    "include_overridden": False,
                }
            ]
        },
    )

    points: Annotated[float, Field(ge=0, description="The points every member gets.")]
    reason: Annotated[Reason, Field(description="Why (kept on every override row).")]
    include_overridden: bool = Field(
        default=False,
        description="Also replace members an instructor overrode one by one (left alone "
        "otherwise).",
    )


class GroupGradeResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"group_id": _GROUP, "applied": 2, "skipped": 1, "override_ids": [7, 8]}]
        }
    )

    group_id: uuid.UUID
    applied: int
    skipped: int = Field(description="Members left alone (overridden one by one).")
    override_ids: list[int]


SubmissionIds = Annotated[
    list[uuid.UUID],
    Field(min_length=1, max_length=MAX_SELECTED, description="Members of this group."),
]


class GroupSplit(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"submission_ids": [_SUBMISSION]}]}
    )

    submission_ids: SubmissionIds


class GroupMove(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "submission_ids": [_SUBMISSION],
                    "to_group_id": "6d1c1f4e-2b7a-4c55-9d0e-7d9b1e2f3a40",
                }
            ]
        },
    )

    submission_ids: SubmissionIds
    to_group_id: uuid.UUID
