"""Admin pages: the organisation's keys (``/console/keys``) and courses
(``/console/courses``), through the same domain calls as ``/v1/keys`` and ``/v1/courses``."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.api.deps import SessionDep
from service.domain.access.principal import Principal
from service.domain.keys import service as key_service
from service.domain.keys.schemas import KeyCreate, KeyCreated, KeyRead
from service.domain.organizations import onboarding
from service.domain.organizations import service as organization_service
from service.domain.organizations.schemas import CourseCreate, CourseRead
from service.domain.validation import SLUG_PATTERN
from service.errors import Conflict, DomainError
from service.web.admin_views import form_errors, instructors_by_course
from service.web.deps import ConsoleSession, WebAdmin
from service.web.i18n import gettext as _
from service.web.templating import render

router = APIRouter(prefix="/console", include_in_schema=False)

CourseSlug = Annotated[str, Form(max_length=64)]
Done = Literal["revoked", "course-created", "granted", "taken"]


def _keys(session: SessionDep, admin: Principal) -> list[KeyRead]:
    return [
        key_service.present_key(session, k) for k in key_service.list_keys(session, admin.scope)
    ]


def _courses(session: SessionDep, admin: Principal) -> list[CourseRead]:
    return [
        CourseRead(id=c.slug, title=c.title, is_default=c.is_default, created_at=c.created_at)
        for c in organization_service.list_courses(session, admin.scope)
    ]


def _keys_page(
    request: Request,
    session: SessionDep,
    active: ConsoleSession,
    admin: Principal,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, object] | None = None,
    created: KeyCreated | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "console/admin/keys.html",
        {
            "me": active,
            "nav": "keys",
            "keys": _keys(session, admin),
            "courses": _courses(session, admin),
            "errors": errors or {},
            "values": values or {"name": "", "role": "instructor", "course_ids": []},
            "created": created,
            "notice": notice,
        },
        status_code=status_code,
        # The new key is on this page once: never keep a copy in any cache.
        headers={"cache-control": "no-store, private"},
    )


def _notice(done: str | None) -> str | None:
    return {
        "revoked": _("The key was revoked."),
        "course-created": _("The course was created."),
        "granted": _("The course was granted."),
        "taken": _("The course was taken from the key."),
    }.get(done or "")


@router.get("/keys", response_class=HTMLResponse)
def keys_page(
    request: Request,
    session: SessionDep,
    active: ConsoleSession,
    admin: WebAdmin,
    done: Annotated[Done | None, Query()] = None,
) -> HTMLResponse:
    return _keys_page(request, session, active, admin, notice=_notice(done))


@router.post("/keys", response_class=HTMLResponse)
def create_key(
    request: Request,
    session: SessionDep,
    active: ConsoleSession,
    admin: WebAdmin,
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    course_ids: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> HTMLResponse:
    """Answered with the page itself (no redirect): the new key is shown once, here, and
    is neither in a URL nor stored anywhere but as its hash."""
    courses = [c[:64] for c in course_ids[:101]] if role == "instructor" else []
    values: dict[str, object] = {"name": name, "role": role, "course_ids": courses}
    try:
        body = KeyCreate(name=name, role=role, course_ids=courses)
    except ValidationError as exc:
        errors = form_errors(exc, {"name": "key-name", "role": "key-role"}, "key-courses")
        return _keys_page(
            request, session, active, admin, errors=errors, values=values, status_code=422
        )
    try:
        made = key_service.create_key_for(session, admin, body)
    except DomainError as exc:
        return _keys_page(
            request,
            session,
            active,
            admin,
            errors={"key-courses": exc.detail},
            values=values,
            status_code=exc.status_code,
        )
    created = KeyCreated(**key_service.present_key(session, made.row).model_dump(), key=made.key)
    return _keys_page(request, session, active, admin, created=created, status_code=201)


@router.get("/keys/{key_id}/revoke", response_class=HTMLResponse)
def confirm_revoke(
    request: Request,
    key_id: uuid.UUID,
    session: SessionDep,
    active: ConsoleSession,
    admin: WebAdmin,
) -> HTMLResponse:
    key = key_service.present_key(session, key_service.get_key(session, admin.scope, key_id))
    return render(request, "console/admin/revoke.html", {"me": active, "nav": "keys", "key": key})


@router.post("/keys/{key_id}/revoke", response_model=None)
def revoke_key(
    request: Request,
    key_id: uuid.UUID,
    session: SessionDep,
    active: ConsoleSession,
    admin: WebAdmin,
) -> Response:
    try:
        key_service.revoke_key(session, admin.scope, key_id)
    except Conflict as exc:  # the organisation's last active admin key
        return _keys_page(
            request,
            session,
            active,
            admin,
            errors={"keys-table": exc.detail},
            status_code=409,
        )
    return RedirectResponse("/console/keys?done=revoked", status_code=303)


def _courses_page(
    request: Request,
    session: SessionDep,
    active: ConsoleSession,
    admin: Principal,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    keys = _keys(session, admin)
    courses = _courses(session, admin)
    return render(
        request,
        "console/admin/courses.html",
        {
            "me": active,
            "nav": "courses",
            "courses": courses,
            "instructors": instructors_by_course(courses, keys),
            "instructor_keys": [k for k in keys if k.role == "instructor" and not k.revoked_at],
            "errors": errors or {},
            "values": values or {"id": "", "title": ""},
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/courses", response_class=HTMLResponse)
def courses_page(
    request: Request,
    session: SessionDep,
    active: ConsoleSession,
    admin: WebAdmin,
    done: Annotated[Done | None, Query()] = None,
) -> HTMLResponse:
    return _courses_page(request, session, active, admin, notice=_notice(done))


@router.post("/courses", response_model=None)
def create_course(
    request: Request,
    session: SessionDep,
    active: ConsoleSession,
    admin: WebAdmin,
    id: Annotated[str, Form(max_length=200)] = "",
    title: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    values = {"id": id, "title": title}
    try:
        body = CourseCreate(id=id.strip(), title=title)
    except ValidationError as exc:
        errors = form_errors(exc, {"id": "course-id", "title": "course-title"}, "course-id")
        return _courses_page(
            request, session, active, admin, errors=errors, values=values, status_code=422
        )
    try:
        organization_service.create_course(session, admin, body)
    except Conflict as exc:
        return _courses_page(
            request,
            session,
            active,
            admin,
            errors={"course-id": exc.detail},
            values=values,
            status_code=409,
        )
    return RedirectResponse("/console/courses?done=course-created", status_code=303)


@router.post("/courses/{course_id}/instructors", response_model=None)
def change_grant(
    request: Request,
    course_id: Annotated[str, Path(max_length=64, pattern=SLUG_PATTERN)],
    session: SessionDep,
    active: ConsoleSession,
    admin: WebAdmin,
    key_id: Annotated[str, Form(max_length=64)] = "",
    action: Annotated[Literal["grant", "revoke"], Form()] = "grant",
) -> Response:
    """Grant a course to an instructor key, or take it (``action=revoke``)."""
    course = organization_service.get_course(session, admin.scope, admin.organization_id, course_id)
    try:
        key = uuid.UUID(key_id)
    except ValueError:
        return _courses_page(
            request,
            session,
            active,
            admin,
            errors={f"grant-{course_id}-key": _("Choose an instructor key.")},
            status_code=422,
        )
    if action == "grant":
        onboarding.grant_course(session, admin, course, key)
    else:
        onboarding.revoke_course(session, admin, course, key)
    done = "granted" if action == "grant" else "taken"
    return RedirectResponse(f"/console/courses?done={done}", status_code=303)
