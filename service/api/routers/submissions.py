from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from service.api.deps import GradersDep, Instructor, Integration, Reader, SessionDep, SettingsDep
from service.api.problems import ProblemDetail
from service.api.routers.common import AUTH_ERRORS, NOT_FOUND
from service.db.models import ScoreOverride
from service.domain.access.principal import Principal
from service.domain.idempotency import service as idempotency
from service.domain.keys import service as key_service
from service.domain.reviews import service as review_service
from service.domain.reviews.schemas import OverrideCreate, OverrideList, OverrideRead
from service.domain.submissions import batch as batch_service
from service.domain.submissions import service as submission_service
from service.domain.submissions.presenters import present_submission
from service.domain.submissions.schemas import (
    SubmissionCreate,
    SubmissionFilter,
    SubmissionListQuery,
    SubmissionPage,
    SubmissionRead,
)
from service.worker import scoring_policy

router = APIRouter(prefix="/v1/submissions", tags=["submissions"], responses=AUTH_ERRORS)

MAX_BATCH_ITEMS = 500

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=idempotency.MAX_KEY_LENGTH,
        pattern=r"^[\x21-\x7e]+$",
        description="Retry-safe key: a retry with the same key and body returns the "
        "original response and creates nothing.",
    ),
]


def public_base_url(request: Request, settings: SettingsDep) -> str:
    return settings.public_base_url or str(request.base_url)


def _run_idempotent(
    session: Session,
    principal: Principal,
    key: str | None,
    request: Request,
    body: BaseModel,
    action: Callable[[], tuple[int, Any]],
) -> JSONResponse:
    """Run ``action`` once per Idempotency-Key; a replay answers the original response."""
    outcome = idempotency.run(
        session,
        owner=key_service.own_key(session, principal),
        key=key,
        request_hash=idempotency.fingerprint("POST", request.url.path, body.model_dump_json()),
        action=action,
    )
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


@router.post(
    "",
    status_code=201,
    response_model=SubmissionRead,
    summary="Submit an answer; it is scored at once (integration)",
    responses={
        202: {"model": SubmissionRead, "description": "Stored, but scoring is pending"},
        413: {"model": ProblemDetail, "description": "Request body too large"},
        **NOT_FOUND,
    },
)
def create_submission(
    body: SubmissionCreate,
    request: Request,
    session: SessionDep,
    graders: GradersDep,
    settings: SettingsDep,
    principal: Integration,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    base_url = public_base_url(request, settings)
    # Graded before the idempotency record (the request's first write), so that on SQLite
    # no write lock is held while the engine runs.
    prepared = submission_service.prepare_submission(
        session, graders=graders, body=body, principal=principal
    )

    def action() -> tuple[int, Any]:
        submission = submission_service.create_submission(
            session,
            graders=graders,
            body=body,
            principal=principal,
            prepared=prepared,
            policy=scoring_policy(settings),
        )
        status = 201 if submission.status == "scored" else 202
        return status, present_submission(submission, base_url=base_url).model_dump(mode="json")

    return _run_idempotent(session, principal, idempotency_key, request, body, action)


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: Annotated[
        list[Any],
        Field(
            min_length=1, max_length=MAX_BATCH_ITEMS, description="Each like POST /v1/submissions."
        ),
    ]


class BatchItemResult(BaseModel):
    index: int
    status: int = Field(description="201 scored, 202 pending, or the item's error status.")
    submission: SubmissionRead | None = None
    error: ProblemDetail | None = None


class BatchResult(BaseModel):
    created: int
    failed: int
    items: list[BatchItemResult]


@router.post(
    "/batch",
    response_model=BatchResult,
    summary=f"Submit up to {MAX_BATCH_ITEMS} answers; bad items are reported, good ones stored",
)
def create_batch(
    body: BatchCreate,
    request: Request,
    session: SessionDep,
    graders: GradersDep,
    settings: SettingsDep,
    principal: Integration,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    base_url = public_base_url(request, settings)

    def action() -> tuple[int, Any]:
        outcomes = batch_service.submit_batch(
            session, graders=graders, principal=principal, items=body.items
        )
        results = [
            BatchItemResult(
                index=outcome.index,
                status=outcome.status,
                submission=(
                    present_submission(outcome.submission, base_url=base_url)
                    if outcome.submission is not None
                    else None
                ),
                error=ProblemDetail.model_validate(outcome.error) if outcome.error else None,
            )
            for outcome in outcomes
        ]
        created = sum(1 for r in results if r.status in (201, 202))
        batch = BatchResult(created=created, failed=len(results) - created, items=results)
        return 200, batch.model_dump(mode="json")

    return _run_idempotent(session, principal, idempotency_key, request, body, action)


@router.get("", response_model=SubmissionPage, summary="List and filter submissions")
def list_submissions(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    query: Annotated[SubmissionListQuery, Query()],
) -> SubmissionPage:
    """Instructors see their courses' submissions, admins their organisation's; an integration
    sees only those it posted.
    `needs_review=true` is the review queue."""
    filters = SubmissionFilter.model_validate(query.model_dump(exclude={"cursor", "limit"}))
    page = submission_service.list_submissions(
        session,
        filters=filters,
        cursor=query.cursor,
        limit=query.limit,
        scope=principal.submission_scope,
    )
    base_url = public_base_url(request, settings)
    return SubmissionPage(
        items=[present_submission(s, base_url=base_url) for s in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/{submission_id}",
    response_model=SubmissionRead,
    summary="Get one submission",
    responses=NOT_FOUND,
)
def get_submission(
    submission_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
) -> SubmissionRead:
    submission = submission_service.get_submission(
        session, submission_id, scope=principal.submission_scope
    )
    return present_submission(submission, base_url=public_base_url(request, settings))


@router.post(
    "/{submission_id}/overrides",
    status_code=201,
    response_model=OverrideRead,
    summary="Override the score, with a reason (instructor)",
    responses=NOT_FOUND,
)
def create_override(
    submission_id: uuid.UUID, body: OverrideCreate, session: SessionDep, principal: Instructor
) -> OverrideRead:
    override = review_service.create_override(
        session, submission_id=submission_id, body=body, principal=principal
    )
    return _present_override(override)


@router.get(
    "/{submission_id}/overrides",
    response_model=OverrideList,
    summary="The override audit trail, oldest first (instructor)",
    responses=NOT_FOUND,
)
def list_overrides(
    submission_id: uuid.UUID, session: SessionDep, principal: Instructor
) -> OverrideList:
    overrides = review_service.list_overrides(
        session, submission_id=submission_id, principal=principal
    )
    return OverrideList(items=[_present_override(o) for o in overrides])


def _present_override(override: ScoreOverride) -> OverrideRead:
    return OverrideRead(
        id=override.id,
        submission_id=override.submission_id,
        old_points=override.old_points,
        new_points=override.new_points,
        reason=override.reason,
        created_at=override.created_at,
        api_key_id=override.api_key_id,
        by_key_name=override.api_key.name,
    )
