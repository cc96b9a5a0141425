"""The admins' LMS page (``/console/lms``): the organisation's LTI platforms, adding one by
hand, its deployment ids, removing it, the tool's values to paste into an LMS and one-time
Dynamic Registration URLs. The same calls as ``/v1/lti`` (service/integrations/lti)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.api.deps import SessionDep, SettingsDep
from service.api.links import public_base_url
from service.db.base import utcnow
from service.domain.access.principal import Principal
from service.errors import DomainError
from service.integrations.lti import admin as lti_admin
from service.integrations.lti import registration
from service.integrations.lti import service as lti_service
from service.integrations.lti.schemas import (
    DeploymentCreate,
    InviteRead,
    PlatformCreate,
    PlatformRead,
)
from service.web.admin_views import form_errors
from service.web.deps import ConsoleSession, WebAdmin
from service.web.i18n import gettext as _
from service.web.templating import render

router = APIRouter(prefix="/console", include_in_schema=False)

Done = Literal["added", "removed", "deployment-added"]
# The form's controls by PlatformCreate field: a message goes next to its control.
FIELDS = {
    "name": "lms-name",
    "issuer": "lms-issuer",
    "client_id": "lms-client-id",
    "auth_login_url": "lms-auth-login-url",
    "token_url": "lms-token-url",
    "jwks_url": "lms-jwks-url",
    "deployment_ids": "lms-deployment-ids",
}
FORM_ERROR = "lms-form"  # what belongs to no one control (a duplicate registration)
EMPTY_FORM = dict.fromkeys(FIELDS, "")
# A textarea of deployment ids: PlatformCreate allows 50 of 255 characters.
DEPLOYMENTS_MAX_CHARS = 50 * 257


def _base(request: Request, settings: SettingsDep) -> str:
    return public_base_url(request, settings).rstrip("/")


def _platforms(session: SessionDep, admin: Principal) -> list[PlatformRead]:
    return [lti_admin.present_platform(p) for p in lti_service.list_platforms(session, admin.scope)]


def _page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    active: ConsoleSession,
    admin: Principal,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    invite: InviteRead | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "console/admin/lms.html",
        {
            "me": active,
            "nav": "lms",
            "platforms": _platforms(session, admin),
            "tool": lti_admin.tool_configuration(_base(request, settings)),
            "errors": errors or {},
            "values": values or EMPTY_FORM,
            "invite": invite,
            "notice": notice,
        },
        status_code=status_code,
        # A registration URL is shown once: never keep a copy in any cache.
        headers={"cache-control": "no-store, private"},
    )


def _notice(done: str | None) -> str | None:
    return {
        "added": _("The LMS was added."),
        "removed": _("The LMS was removed. Its launches stop at once; its submissions stay."),
        "deployment-added": _("The deployment id was added."),
    }.get(done or "")


@router.get("/lms", response_class=HTMLResponse)
def lms_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    active: ConsoleSession,
    admin: WebAdmin,
    done: Annotated[Done | None, Query()] = None,
) -> HTMLResponse:
    return _page(request, session, settings, active, admin, notice=_notice(done))


@router.post("/lms/platforms", response_model=None)
def add_platform(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    active: ConsoleSession,
    admin: WebAdmin,
    name: Annotated[str, Form(max_length=400)] = "",
    issuer: Annotated[str, Form(max_length=600)] = "",
    client_id: Annotated[str, Form(max_length=600)] = "",
    auth_login_url: Annotated[str, Form(max_length=4200)] = "",
    token_url: Annotated[str, Form(max_length=4200)] = "",
    jwks_url: Annotated[str, Form(max_length=4200)] = "",
    deployment_ids: Annotated[str, Form(max_length=DEPLOYMENTS_MAX_CHARS)] = "",
) -> Response:
    """Registered by ``register_platform`` as ``POST /v1/lti/platforms`` does; a problem
    is shown on its field (a refused URL included) with the form as it was typed."""
    values = {
        "name": name,
        "issuer": issuer,
        "client_id": client_id,
        "auth_login_url": auth_login_url,
        "token_url": token_url,
        "jwks_url": jwks_url,
        "deployment_ids": deployment_ids,
    }

    def again(errors: dict[str, str], status_code: int) -> HTMLResponse:
        return _page(
            request,
            session,
            settings,
            active,
            admin,
            errors=errors,
            values=values,
            status_code=status_code,
        )

    try:
        # Pasted values often carry a stray space or newline; one id per line.
        body = PlatformCreate(
            **{k: v.strip() for k, v in values.items() if k != "deployment_ids"},
            deployment_ids=[line.strip() for line in deployment_ids.splitlines() if line.strip()],
        )
    except ValidationError as exc:
        return again(form_errors(exc, FIELDS, FORM_ERROR), 422)
    try:
        lti_service.register_platform(
            session,
            settings,
            organization_id=admin.organization_id,
            values=lti_admin.platform_values(body),
            registered_by="manual",
        )
    except DomainError as exc:
        field = FIELDS.get(str(exc.extra.get("field", "")), FORM_ERROR)
        return again({field: exc.detail}, exc.status_code)
    return RedirectResponse("/console/lms?done=added#lms-table", status_code=303)


@router.post("/lms/platforms/{platform_id}/deployments", response_model=None)
def add_deployment(
    request: Request,
    platform_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    active: ConsoleSession,
    admin: WebAdmin,
    deployment_id: Annotated[str, Form(max_length=600)] = "",
) -> Response:
    platform = lti_service.get_platform(session, admin.scope, platform_id)
    try:
        body = DeploymentCreate(deployment_id=deployment_id.strip())
    except ValidationError as exc:
        field = f"deployment-{platform.id}"
        errors = form_errors(exc, {"deployment_id": field}, field)
        return _page(request, session, settings, active, admin, errors=errors, status_code=422)
    lti_service.add_deployment(session, platform, body.deployment_id)
    return RedirectResponse("/console/lms?done=deployment-added", status_code=303)


@router.get("/lms/platforms/{platform_id}/remove", response_class=HTMLResponse)
def confirm_remove(
    request: Request,
    platform_id: uuid.UUID,
    session: SessionDep,
    active: ConsoleSession,
    admin: WebAdmin,
) -> HTMLResponse:
    platform = lti_admin.present_platform(
        lti_service.get_platform(session, admin.scope, platform_id)
    )
    return render(
        request,
        "console/admin/lms_remove.html",
        {"me": active, "nav": "lms", "platform": platform},
    )


@router.post("/lms/platforms/{platform_id}/remove", response_model=None)
def remove_platform(
    platform_id: uuid.UUID, session: SessionDep, active: ConsoleSession, admin: WebAdmin
) -> Response:
    lti_service.delete_platform(
        session, lti_service.get_platform(session, admin.scope, platform_id)
    )
    return RedirectResponse("/console/lms?done=removed", status_code=303)


@router.post("/lms/registrations", response_class=HTMLResponse)
def create_registration(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    active: ConsoleSession,
    admin: WebAdmin,
) -> HTMLResponse:
    """Answered with the page itself: the URL carries the invitation, shown this once and
    stored only as its hash (like a new key). It registers nothing until an LMS opens it."""
    invite = registration.create_invite(
        session, settings, organization_id=admin.organization_id, now=utcnow()
    )
    shown = lti_admin.invite_read(_base(request, settings), invite)
    return _page(request, session, settings, active, admin, invite=shown, status_code=201)
