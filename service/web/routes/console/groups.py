"""A question's answer groups as pages: the groups with a grade form each, and a group's
members with split, move and revert controls. The same services as the API."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.api.deps import SessionDep
from service.domain.grouping import service as grouping_service
from service.domain.grouping.schemas import MAX_SELECTED, GroupGrade, GroupMove, GroupSplit
from service.domain.questions import service as question_service
from service.domain.reviews import service as review_service
from service.domain.validation import SLUG_PATTERN
from service.errors import DomainError
from service.web.deps import ConsoleSession
from service.web.errors import error_page
from service.web.i18n import gettext as _
from service.web.routes.console.forms import points_error
from service.web.templating import render

router = APIRouter(prefix="/console", include_in_schema=False)

Slug = Annotated[str, Path(max_length=64, pattern=SLUG_PATTERN)]
FormText = Annotated[str, Form(max_length=300)]
# Groups per page (the API allows up to 200; a page of 25 stays readable).
PAGE_SIZE = 25


def _groups_page(
    request: Request,
    session: SessionDep,
    active: ConsoleSession,
    slug: str,
    *,
    cursor: str | None = None,
    errors: dict[str, str] | None = None,
    failed_group: uuid.UUID | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    page = grouping_service.list_groups(
        session, question_id=slug, principal=active.principal, cursor=cursor, limit=PAGE_SIZE
    )
    question = question_service.get_question(session, active.principal.scope, slug)
    return render(
        request,
        "console/question/groups.html",
        {
            "me": active,
            "nav": "home",
            "slug": slug,
            "title": question.title,
            "max_points": question.max_points,
            "page": page,
            "errors": errors or {},
            "failed_group": str(failed_group) if failed_group else None,
            "values": values or {},
        },
        status_code=status_code,
    )


@router.get("/questions/{slug}/groups", response_class=HTMLResponse)
def groups_page(
    request: Request,
    slug: Slug,
    session: SessionDep,
    active: ConsoleSession,
    cursor: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    return _groups_page(request, session, active, slug, cursor=cursor)


def _grade_errors(points: str, reason: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if (problem := points_error(points)) is not None:
        errors["points"] = problem
    if not reason.strip():
        errors["reason"] = _("Say why you give these points: it is kept in the audit trail.")
    return errors


@router.post("/questions/{slug}/groups/{group_id}/grade", response_model=None)
def grade_group(
    request: Request,
    slug: Slug,
    group_id: uuid.UUID,
    session: SessionDep,
    active: ConsoleSession,
    points: FormText = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    include_overridden: FormText = "",
) -> Response:
    """Every member gets an ordinary override (audited one by one), then back to the list
    with what was done."""
    errors = _grade_errors(points, reason)
    if not errors:
        try:
            body = GroupGrade(
                points=float(points), reason=reason, include_overridden=bool(include_overridden)
            )
            result = grouping_service.grade_group(
                session, question_id=slug, group_id=group_id, body=body, principal=active.principal
            )
        except ValidationError:
            errors["points"] = _("These points or this reason cannot be stored.")
        except DomainError as exc:
            if exc.status_code != 422:
                raise
            errors["points"] = str(exc)
    if errors:
        session.rollback()
        return _groups_page(
            request,
            session,
            active,
            slug,
            errors=errors,
            failed_group=group_id,
            values={"points": points, "reason": reason},
            status_code=422,
        )
    return RedirectResponse(
        f"/console/questions/{slug}/groups?graded={result.applied}&skipped={result.skipped}"
        f"#group-{group_id}",
        status_code=303,
    )


def _group_page(
    request: Request,
    session: SessionDep,
    active: ConsoleSession,
    slug: str,
    group_id: uuid.UUID,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    # The list first: it recomputes stale groups (group ids survive that).
    others = grouping_service.list_groups(
        session, question_id=slug, principal=active.principal, cursor=None, limit=200
    )
    detail = grouping_service.get_group(
        session, question_id=slug, group_id=group_id, principal=active.principal, limit=1000
    )
    question = question_service.get_question(session, active.principal.scope, slug)
    revertible = review_service.newest_active_overrides(
        session, [m.submission_id for m in detail.members if m.overridden]
    )
    return render(
        request,
        "console/question/group.html",
        {
            "me": active,
            "nav": "home",
            "slug": slug,
            "title": question.title,
            "group": detail,
            "targets": [g for g in others.items if g.id != detail.id],
            "revertible": {str(k): v for k, v in revertible.items()},
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/questions/{slug}/groups/{group_id}", response_class=HTMLResponse)
def group_page(
    request: Request, slug: Slug, group_id: uuid.UUID, session: SessionDep, active: ConsoleSession
) -> HTMLResponse:
    return _group_page(request, session, active, slug, group_id)


def _selected(submission_id: list[str]) -> list[uuid.UUID] | None:
    """The ticked answers, or None when one is not an id (a tampered form)."""
    try:
        return [uuid.UUID(value) for value in submission_id[: MAX_SELECTED + 1]]
    except ValueError:
        return None


def _change(
    request: Request,
    session: SessionDep,
    active: ConsoleSession,
    slug: str,
    group_id: uuid.UUID,
    action: Any,
) -> Response:
    """Run a split or move; a refusal shows the group page again with the reason."""
    try:
        target = action()
    except ValidationError:
        message = _("Tick at least one answer (at most %(n)s).") % {"n": MAX_SELECTED}
    except DomainError as exc:
        if exc.status_code != 422:
            raise
        message = str(exc)
    else:
        return RedirectResponse(f"/console/questions/{slug}/groups/{target.id}", status_code=303)
    session.rollback()
    return _group_page(request, session, active, slug, group_id, error=message, status_code=422)


@router.post("/questions/{slug}/groups/{group_id}/split", response_model=None)
def split_group(
    request: Request,
    slug: Slug,
    group_id: uuid.UUID,
    session: SessionDep,
    active: ConsoleSession,
    submission_id: Annotated[list[str], Form(max_length=MAX_SELECTED + 1)] = [],  # noqa: B006
) -> Response:
    ids = _selected(submission_id)
    if ids is None:
        return error_page(request, 422, _("The form names an answer that does not exist."))
    return _change(
        request,
        session,
        active,
        slug,
        group_id,
        lambda: grouping_service.split_group(
            session,
            question_id=slug,
            group_id=group_id,
            body=GroupSplit(submission_ids=ids),
            principal=active.principal,
        ),
    )


@router.post("/questions/{slug}/groups/{group_id}/move", response_model=None)
def move_members(
    request: Request,
    slug: Slug,
    group_id: uuid.UUID,
    session: SessionDep,
    active: ConsoleSession,
    to_group_id: FormText = "",
    submission_id: Annotated[list[str], Form(max_length=MAX_SELECTED + 1)] = [],  # noqa: B006
) -> Response:
    ids = _selected(submission_id)
    try:
        target = uuid.UUID(to_group_id)
    except ValueError:
        return _group_page(
            request,
            session,
            active,
            slug,
            group_id,
            error=_("Choose the group to move the answers to."),
            status_code=422,
        )
    if ids is None:
        return error_page(request, 422, _("The form names an answer that does not exist."))
    return _change(
        request,
        session,
        active,
        slug,
        group_id,
        lambda: grouping_service.move_members(
            session,
            question_id=slug,
            group_id=group_id,
            body=GroupMove(submission_ids=ids, to_group_id=target),
            principal=active.principal,
        ),
    )


@router.post("/questions/{slug}/groups/{group_id}/revert", response_model=None)
def revert_override(
    request: Request,
    slug: Slug,
    group_id: uuid.UUID,
    session: SessionDep,
    active: ConsoleSession,
    submission_id: FormText = "",
    override_id: FormText = "",
) -> Response:
    """Undo one member's newest override (the same revert as the API), back to the group."""
    question_service.get_question(session, active.principal.scope, slug)
    try:
        submission = uuid.UUID(submission_id)
        override = int(override_id)
    except ValueError:
        return error_page(request, 422, _("The form names an override that does not exist."))
    review_service.revert_override(
        session, submission_id=submission, override_id=override, principal=active.principal
    )
    return RedirectResponse(
        f"/console/questions/{slug}/groups/{group_id}?reverted=1", status_code=303
    )
