"""LTI Dynamic Registration 1.0, the tool side: an admin pastes one URL of ours into the
LMS; the LMS opens it with its configuration's URL and a registration token; we read the
configuration, register ourselves at its registration endpoint and store the platform
under the admin's organisation.

The URL an admin pastes carries a one-time invitation (``/lti/register?invite=...``, made
by ``POST /v1/lti/registrations``): without it anyone could register an LMS of theirs into
some organisation. Every fetch goes through the outbound checks, with no transaction open.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from service.config import Settings
from service.db.models import LtiPlatform, LtiRegistrationInvite
from service.db.session import end_read_phase
from service.domain.callbacks.transport import SendFailed, send
from service.integrations.lti import claims
from service.integrations.lti.repository import LaunchRepository
from service.integrations.lti.service import (
    LaunchRejected,
    PlatformValues,
    hash_token,
    outbound_policy,
    platform_client,
    register_platform,
)

log = logging.getLogger(__name__)

MAX_CONFIGURATION_BYTES = 256 * 1024
TOOL_NAME = "Assessment grader"


class RegistrationFailed(LaunchRejected):
    code = "lti_registration_failed"
    title = "The LMS could not be registered"


@dataclass(frozen=True)
class Invite:
    token: str
    row: LtiRegistrationInvite


def create_invite(
    session: Session, settings: Settings, *, organization_id: uuid.UUID, now: datetime
) -> Invite:
    token = secrets.token_urlsafe(32)
    row = LtiRegistrationInvite(
        token_hash=hash_token(token),
        organization_id=organization_id,
        expires_at=now + timedelta(hours=settings.lti_registration_invite_hours),
    )
    session.add(row)
    session.flush()
    return Invite(token, row)


def _usable_invite(session: Session, token: str | None, now: datetime) -> LtiRegistrationInvite:
    if not token or len(token) > 128:
        raise RegistrationFailed(
            "This registration URL has no invitation; copy the whole URL from the service's "
            "console (Admin, LMS platforms)."
        )
    invite = LaunchRepository(session).invite_by_hash(hash_token(token))
    if invite is None or invite.expires_at <= now:
        raise RegistrationFailed("This registration URL has expired; make a new one.")
    if invite.used_at is not None:
        raise RegistrationFailed("This registration URL was already used; make a new one.")
    return invite


def tool_configuration(tool_base_url: str) -> dict[str, Any]:
    """What we register as (Dynamic Registration section 3.5.2): OpenID client metadata
    plus the LTI tool configuration."""
    base = tool_base_url.rstrip("/")
    launch = f"{base}/lti/launch"
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": f"{base}/lti/login",
        "redirect_uris": [launch],
        "client_name": TOOL_NAME,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(
            [claims.SCOPE_LINEITEM, claims.SCOPE_RESULT_READONLY, claims.SCOPE_SCORE]
        ),
        claims.TOOL_CONFIGURATION: {
            "domain": urlsplit(base).netloc,
            "target_link_uri": launch,
            "description": "Short-answer questions scored by rubric, with feedback.",
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [
                {
                    "type": claims.MessageType.DEEP_LINKING.value,
                    "target_link_uri": launch,
                    "label": TOOL_NAME,
                },
                {
                    "type": claims.MessageType.RESOURCE_LINK.value,
                    "target_link_uri": launch,
                    "label": TOOL_NAME,
                },
            ],
        },
    }


def _json(response_body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(response_body)
    except ValueError:
        raise RegistrationFailed(f"The LMS's {what} is not JSON.") from None
    if not isinstance(data, dict):
        raise RegistrationFailed(f"The LMS's {what} is not a JSON object.")
    return data


def _url(config: dict[str, Any], name: str) -> str:
    value = config.get(name)
    if (
        not isinstance(value, str)
        or not value.startswith(("https://", "http://"))
        or len(value) > 2048
    ):
        raise RegistrationFailed(f"The LMS's configuration lacks {name}.")
    return value


def register(
    session: Session,
    settings: Settings,
    *,
    invite_token: str | None,
    openid_configuration: str | None,
    registration_token: str | None,
    tool_base_url: str,
    now: datetime,
) -> LtiPlatform:
    invite = _usable_invite(session, invite_token, now)
    organization_id = invite.organization_id
    if not openid_configuration or len(openid_configuration) > 2048:
        raise RegistrationFailed(
            "The LMS did not send its openid_configuration: open this URL from the LMS's "
            "tool registration page."
        )
    end_read_phase(session)  # the fetches below hold no transaction (nor SQLite's lock)
    policy = outbound_policy(settings)

    try:
        fetched = send(
            "GET",
            openid_configuration,
            destinations=policy,
            make_client=platform_client,
            headers={"Accept": "application/json"},
            max_body_bytes=MAX_CONFIGURATION_BYTES,
        )
    except SendFailed as exc:
        raise RegistrationFailed(
            f"The LMS's configuration could not be fetched ({exc.reason.replace('_', ' ')})."
        ) from None
    if fetched.status_code != 200:
        raise RegistrationFailed(f"The LMS's configuration answered {fetched.status_code}.")
    config = _json(fetched.body, "configuration")
    issuer = config.get("issuer")
    if (
        not isinstance(issuer, str)
        or urlsplit(issuer).netloc != urlsplit(openid_configuration).netloc
    ):
        # The spec: the issuer must be the host the configuration was fetched from.
        raise RegistrationFailed("The LMS's issuer does not match where its configuration is.")
    endpoint = _url(config, "registration_endpoint")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token[:4096]}"
    try:
        answered = send(
            "POST",
            endpoint,
            destinations=policy,
            make_client=platform_client,
            headers=headers,
            content=json.dumps(tool_configuration(tool_base_url)).encode(),
            max_body_bytes=MAX_CONFIGURATION_BYTES,
        )
    except SendFailed as exc:
        raise RegistrationFailed(
            "The LMS's registration endpoint could not be reached "
            f"({exc.reason.replace('_', ' ')})."
        ) from None
    if answered.status_code not in (200, 201):
        raise RegistrationFailed(f"The LMS refused the registration ({answered.status_code}).")
    registered = _json(answered.body, "registration answer")
    client_id = registered.get("client_id")
    if not isinstance(client_id, str) or not 0 < len(client_id) <= 255:
        raise RegistrationFailed("The LMS's registration answer has no client_id.")
    tool_config = registered.get(claims.TOOL_CONFIGURATION)
    deployment = tool_config.get("deployment_id") if isinstance(tool_config, dict) else None
    platform_config = config.get(claims.PLATFORM_CONFIGURATION)
    product = (
        platform_config.get("product_family_code") if isinstance(platform_config, dict) else None
    )
    values = PlatformValues(
        name=str(product or urlsplit(issuer).netloc)[:200],
        issuer=issuer[:255],
        client_id=client_id,
        auth_login_url=_url(config, "authorization_endpoint"),
        token_url=_url(config, "token_endpoint"),
        jwks_url=_url(config, "jwks_uri"),
        deployment_ids=[deployment] if isinstance(deployment, str) and deployment else [],
    )
    invite = _usable_invite(session, invite_token, now)  # again, locked, in this transaction
    platform = register_platform(
        session, settings, organization_id=organization_id, values=values, registered_by="dynamic"
    )
    invite.used_at = now
    invite.platform_id = platform.id
    log.info("LTI platform %s registered itself (dynamic registration)", platform.id)
    return platform
