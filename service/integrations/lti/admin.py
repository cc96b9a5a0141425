"""What LTI administration shows and accepts, shared by the admin API (``/v1/lti``) and the
console's LMS page (``/console/lms``), so the two never drift apart: a platform as an admin
reads it, the values to paste into an LMS, a form's values as the service takes them, and
a Dynamic Registration URL."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from service.db.models import LtiPlatform
from service.integrations.lti import claims, registration
from service.integrations.lti.registration import Invite
from service.integrations.lti.schemas import (
    InviteRead,
    PlatformCreate,
    PlatformRead,
    ToolConfiguration,
)
from service.integrations.lti.service import PlatformValues


def present_platform(platform: LtiPlatform) -> PlatformRead:
    return PlatformRead(
        id=platform.id,
        name=platform.name,
        issuer=platform.issuer,
        client_id=platform.client_id,
        auth_login_url=platform.auth_login_url,
        token_url=platform.token_url,
        jwks_url=platform.jwks_url,
        deployment_ids=[d.deployment_id for d in platform.deployments],
        registered_by="dynamic" if platform.registered_by == "dynamic" else "manual",
        created_at=platform.created_at,
    )


def tool_configuration(base: str) -> ToolConfiguration:
    """The tool's values for an LMS admin adding it by hand; ``base`` is the public base URL
    without its trailing slash."""
    return ToolConfiguration(
        tool_name=registration.TOOL_NAME,
        domain=urlsplit(base).netloc,
        login_url=f"{base}/lti/login",
        launch_url=f"{base}/lti/launch",
        deep_linking_url=f"{base}/lti/launch",
        jwks_url=f"{base}/.well-known/jwks.json",
        scopes=[claims.SCOPE_LINEITEM, claims.SCOPE_RESULT_READONLY, claims.SCOPE_SCORE],
        custom_parameters="",
    )


def platform_values(body: PlatformCreate) -> PlatformValues:
    """A validated body as the service registers it. An issuer that is a bare origin loses
    its trailing slash (``https://lms.example.edu/`` is what admins paste, the id_token says
    ``https://lms.example.edu``); one with a path is kept exactly, as the LMS sends it.
    (The API's check was ``count("/") <= 2``, true only of an issuer without a slash to
    drop, so a pasted ``https://lms.example.edu/`` was kept and its launches refused.)"""
    issuer = body.issuer
    if urlsplit(issuer).path == "/" and not urlsplit(issuer).query:
        issuer = issuer.rstrip("/")
    return PlatformValues(
        name=body.name,
        issuer=issuer,
        client_id=body.client_id,
        auth_login_url=str(body.auth_login_url),
        token_url=str(body.token_url),
        jwks_url=str(body.jwks_url),
        deployment_ids=body.deployment_ids,
    )


def invite_read(base: str, invite: Invite) -> InviteRead:
    """The URL an admin pastes into the LMS: the invitation travels in it, once."""
    return InviteRead(
        url=f"{base}/lti/register?{urlencode({'invite': invite.token})}",
        expires_at=invite.row.expires_at,
    )
