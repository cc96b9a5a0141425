"""Answer groups of a question: list, read, grade a group, split and move members."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from service.api.deps import Instructor, SessionDep
from service.api.routers.common import AUTH_ERRORS, NOT_FOUND, problems
from service.domain.grouping import service as grouping_service
from service.domain.grouping.schemas import (
    GroupDetail,
    GroupGrade,
    GroupGradeResult,
    GroupMove,
    GroupPage,
    GroupRead,
    GroupSplit,
)
from service.domain.validation import SLUG_PATTERN

router = APIRouter(prefix="/v1/questions", tags=["answer groups"], responses=AUTH_ERRORS)

QuestionId = Annotated[str, Path(max_length=64, pattern=SLUG_PATTERN)]
Cursor = Annotated[
    str | None, Query(max_length=16, description="`next_cursor` of the previous page.")
]


@router.get(
    "/{question_id}/groups",
    response_model=GroupPage,
    summary="The question's answer groups, largest first (instructor)",
    responses=NOT_FOUND,
    openapi_extra=problems("invalid_cursor"),
)
def list_groups(
    question_id: QuestionId,
    session: SessionDep,
    principal: Instructor,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> GroupPage:
    """Lists the question's answer groups (answers that deserve the same score), largest
    first: size, representative answer, criteria met, machine score range, overridden
    members. Groups are recomputed first when answers or the rubric changed since (at most
    the 5,000 newest scored answers are grouped).

    Who: instructor of the question's course, or admin.
    """
    return grouping_service.list_groups(
        session, question_id=question_id, principal=principal, cursor=cursor, limit=limit
    )


@router.get(
    "/{question_id}/groups/{group_id}",
    response_model=GroupDetail,
    summary="One answer group with its members (instructor)",
    responses=NOT_FOUND,
)
def get_group(
    question_id: QuestionId,
    group_id: uuid.UUID,
    session: SessionDep,
    principal: Instructor,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> GroupDetail:
    """Returns one group and its members (oldest answer first, at most `limit`); changes
    nothing.

    Who: instructor of the question's course, or admin.
    """
    return grouping_service.get_group(
        session, question_id=question_id, group_id=group_id, principal=principal, limit=limit
    )


@router.post(
    "/{question_id}/groups/{group_id}/grade",
    response_model=GroupGradeResult,
    summary="Grade every answer of a group (instructor)",
    responses=NOT_FOUND,
    openapi_extra=problems("unprocessable"),
)
def grade_group(
    question_id: QuestionId,
    group_id: uuid.UUID,
    body: GroupGrade,
    session: SessionDep,
    principal: Instructor,
) -> GroupGradeResult:
    """Gives every member the points and reason, each as an ordinary override (audited one
    by one, the integration's webhook and the LMS score per submission; each revertible
    alone with `POST /v1/submissions/{id}/overrides/{override_id}/revert`). Members an
    instructor overrode one by one are left alone (`skipped`) unless `include_overridden`.

    Who: instructor of the question's course, or admin. 422 `unprocessable` when the points
    are above the question's maximum.
    """
    return grouping_service.grade_group(
        session, question_id=question_id, group_id=group_id, body=body, principal=principal
    )


@router.post(
    "/{question_id}/groups/{group_id}/split",
    status_code=201,
    response_model=GroupRead,
    summary="Split answers off into a new group (instructor)",
    responses=NOT_FOUND,
    openapi_extra=problems("group_members_invalid"),
)
def split_group(
    question_id: QuestionId,
    group_id: uuid.UUID,
    body: GroupSplit,
    session: SessionDep,
    principal: Instructor,
) -> GroupRead:
    """Makes a new group of the named members (pinned: recomputing the groups keeps them
    there). 422 `group_members_invalid` when an id is not a member of this group, is named
    twice, or the split would take every member.

    Who: instructor of the question's course, or admin.
    """
    return grouping_service.split_group(
        session, question_id=question_id, group_id=group_id, body=body, principal=principal
    )


@router.post(
    "/{question_id}/groups/{group_id}/move",
    response_model=GroupRead,
    summary="Move answers to another group (instructor)",
    responses=NOT_FOUND,
    openapi_extra=problems("group_members_invalid"),
)
def move_members(
    question_id: QuestionId,
    group_id: uuid.UUID,
    body: GroupMove,
    session: SessionDep,
    principal: Instructor,
) -> GroupRead:
    """Moves the named members to `to_group_id` (pinned: recomputing the groups keeps them
    there); a group left empty is deleted. Returns the target group. 404 when either group
    is unknown; 422 `group_members_invalid` when an id is not a member of this group, is
    named twice, or the target is this group.

    Who: instructor of the question's course, or admin.
    """
    return grouping_service.move_members(
        session, question_id=question_id, group_id=group_id, body=body, principal=principal
    )
