"""LTI 1.3 administration: the platforms (LMSs) of the caller's organisation, the values to
paste into an LMS, Dynamic Registration invitations, the tool's key rotation, the scores
sent to gradebooks, and a question's attempts setting."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from service.api.deps import Admin, Instructor, Operator, SessionDep, SettingsDep
from service.api.links import public_base_url
from service.api.routers.common import AUTH_ERRORS, problems
from service.db.base import utcnow
from service.domain.callbacks.schemas import DeliveryRead
from service.domain.questions import service as question_service
from service.errors import UnprocessableRequest
from service.integrations.lti import admin as lti_admin
from service.integrations.lti import keys as lti_keys
from service.integrations.lti import registration
from service.integrations.lti import service as lti_service
from service.integrations.lti.repository import PlatformRepository
from service.integrations.lti.schemas import (
    AttemptsRead,
    AttemptsUpdate,
    DeploymentCreate,
    InviteRead,
    KeyRead,
    PlatformCreate,
    PlatformList,
    PlatformRead,
    ScoreDeliveryList,
    ToolConfiguration,
)

router = APIRouter(prefix="/v1/lti", tags=["LTI 1.3"], responses=AUTH_ERRORS)
questions_router = APIRouter(prefix="/v1/questions", tags=["questions"], responses=AUTH_ERRORS)


@router.get("/tool", response_model=ToolConfiguration, summary="The values to paste into an LMS")
def get_tool(request: Request, settings: SettingsDep, principal: Admin) -> ToolConfiguration:
    """Returns the values to paste into an LMS (login, launch, JWKS and redirect URLs, client
    settings); changes nothing.

    Who: admin. Moodle: Site administration > Plugins > External tool > Manage tools >
    configure a tool manually; Canvas: Developer Keys > + LTI Key. See README "Connect your LMS".
    """
    return lti_admin.tool_configuration(public_base_url(request, settings).rstrip("/"))


@router.get("/platforms", response_model=PlatformList, summary="Your organisation's LMSs")
def list_platforms(session: SessionDep, principal: Admin) -> PlatformList:
    """Lists your organisation's registered LMSs (LTI platforms); changes nothing.

    Who: admin.
    """
    platforms = lti_service.list_platforms(session, principal.scope)
    return PlatformList(items=[lti_admin.present_platform(p) for p in platforms])


@router.post(
    "/platforms",
    response_model=PlatformRead,
    status_code=201,
    summary="Register an LMS by hand (the values it shows for this tool)",
    openapi_extra=problems("unprocessable", "conflict"),
)
def create_platform(
    body: PlatformCreate, session: SessionDep, settings: SettingsDep, principal: Admin
) -> PlatformRead:
    """Registers an LMS by hand, with the values it shows for this tool.

    Who: admin. Its URLs must pass the outbound rules (public https, unless allowed by
    `GRADER_CALLBACK_ALLOWED_HOSTS`); `(issuer, client_id)` is unique in the deployment
    (409 `conflict`).
    """
    platform = lti_service.register_platform(
        session,
        settings,
        organization_id=principal.organization_id,
        values=lti_admin.platform_values(body),
        registered_by="manual",
    )
    return lti_admin.present_platform(platform)


@router.get(
    "/platforms/{platform_id}",
    response_model=PlatformRead,
    summary="One LMS",
    openapi_extra=problems("not_found"),
)
def get_platform(platform_id: uuid.UUID, session: SessionDep, principal: Admin) -> PlatformRead:
    """Returns one registered LMS; changes nothing.

    Who: admin of its organisation. 404 otherwise.
    """
    return lti_admin.present_platform(
        lti_service.get_platform(session, principal.scope, platform_id)
    )


@router.delete(
    "/platforms/{platform_id}",
    status_code=204,
    summary="Unregister an LMS",
    openapi_extra=problems("not_found"),
)
def delete_platform(platform_id: uuid.UUID, session: SessionDep, principal: Admin) -> Response:
    """Unregisters an LMS: its launches stop at once and no more scores go to it; its
    submissions stay.

    Who: admin of its organisation.
    """
    lti_service.delete_platform(
        session, lti_service.get_platform(session, principal.scope, platform_id)
    )
    return Response(status_code=204)


@router.post(
    "/platforms/{platform_id}/deployments",
    response_model=PlatformRead,
    summary="Add a deployment id (launches from unknown deployments are refused)",
    openapi_extra=problems("not_found"),
)
def add_deployment(
    platform_id: uuid.UUID, body: DeploymentCreate, session: SessionDep, principal: Admin
) -> PlatformRead:
    """Adds a deployment id to a registered LMS: launches from unknown deployments are
    refused.

    Who: admin of its organisation. Adding a known id changes nothing.
    """
    platform = lti_service.get_platform(session, principal.scope, platform_id)
    return lti_admin.present_platform(
        lti_service.add_deployment(session, platform, body.deployment_id)
    )


@router.get(
    "/platforms/{platform_id}/scores",
    response_model=ScoreDeliveryList,
    summary="Scores sent (or queued) to this LMS's gradebook, newest first",
    openapi_extra=problems("not_found"),
)
def list_scores(
    platform_id: uuid.UUID,
    session: SessionDep,
    principal: Admin,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ScoreDeliveryList:
    """Lists the scores sent (or queued) to this LMS's gradebook, newest first, with each
    attempt's outcome; changes nothing.

    Who: admin of its organisation.
    """
    platform = lti_service.get_platform(session, principal.scope, platform_id)
    rows = PlatformRepository(session, principal.scope).score_deliveries(platform.id, limit=limit)
    return ScoreDeliveryList(items=[DeliveryRead.model_validate(row) for row in rows])


@router.post(
    "/registrations",
    response_model=InviteRead,
    status_code=201,
    summary="A one-time Dynamic Registration URL for your organisation",
)
def create_registration(
    request: Request, session: SessionDep, settings: SettingsDep, principal: Admin
) -> InviteRead:
    """Creates a one-time Dynamic Registration URL for your organisation.

    Who: admin. Paste the URL into the LMS (Moodle: Manage tools > Tool URL > Add LTI
    Advantage); the LMS registers itself under your organisation. It works once, until
    `expires_at`.
    """
    invite = registration.create_invite(
        session, settings, organization_id=principal.organization_id, now=utcnow()
    )
    return lti_admin.invite_read(public_base_url(request, settings).rstrip("/"), invite)


@router.post(
    "/keys/rotate",
    response_model=KeyRead,
    status_code=201,
    summary="Rotate the tool's signing key (operator)",
    openapi_extra=problems("unprocessable"),
)
def rotate_key(session: SessionDep, settings: SettingsDep, principal: Operator) -> KeyRead:
    """Rotates the tool's LTI signing key.

    Who: the deployment operator's key. The new key signs from now on; the old one stays in
    `/.well-known/jwks.json` for an hour, so what it signed still verifies. 422
    `unprocessable` when the configured key file cannot be used.
    """
    try:
        row = lti_keys.rotate(session, settings, now=utcnow())
    except lti_keys.KeyFileUnusable as exc:
        raise UnprocessableRequest(str(exc)) from None
    return KeyRead(kid=row.kid, created_at=row.created_at)


@questions_router.put(
    "/{question_id}/attempts",
    response_model=AttemptsRead,
    summary="How many attempts a learner has from the LMS, and which counts",
    openapi_extra=problems("not_found"),
)
def set_attempts(
    question_id: str, body: AttemptsUpdate, session: SessionDep, principal: Instructor
) -> AttemptsRead:
    """Sets how many attempts a learner has from the LMS, and which one counts.

    Who: instructor of the question's course, or admin. `max_attempts` (default 1) answers per
    learner per placement; `attempt_policy` `last` or `highest` is the one sent to the
    gradebook. Applies to later launches; stored attempts are kept.
    """
    question = question_service.get_question(session, principal.scope, question_id)
    question.max_attempts = body.max_attempts
    question.attempt_policy = body.attempt_policy
    session.flush()
    return AttemptsRead(
        question_id=question.slug,
        max_attempts=question.max_attempts,
        attempt_policy="highest" if question.attempt_policy == "highest" else "last",
    )
