"""The JWTs of LTI 1.3: verifying a platform's id_token, and signing what the tool sends
(the client assertion of the AGS token request, the Deep Linking response).

Pure: PyJWT and the standard library only. Every rule a launch must pass is here, in the
order the spec gives them (LTI Core 1.3 section 5.1.3, 1EdTech Security Framework 5.1.3),
each failure a ``TokenRejected`` whose message is safe to show in the LMS's iframe.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from service.integrations.lti import claims

# The only signature algorithm accepted or used (the 1EdTech Security Framework's). Fixing
# it here is what refuses ``alg: none`` and HS256 signed with the platform's public key.
ALGORITHM = "RS256"
# Clock skew allowed between us and the platform, for exp, iat and nbf.
LEEWAY_SECONDS = 60
# An id_token issued longer ago than this is refused even if its exp is later: a launch is
# a browser redirect that takes seconds.
MAX_AGE_SECONDS = 600
# What the tool signs lives this long.
ASSERTION_SECONDS = 300


class TokenRejected(ValueError):
    """The token may not be used; the message says why, in words for the person launching."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: bytes


def unverified_kid(token: str) -> str | None:
    """The ``kid`` a token names, read before verifying (to pick the key)."""
    header = _header(token)
    kid = header.get("kid")
    return kid if isinstance(kid, str) and kid else None


def _header(token: str) -> dict[str, Any]:
    if not token or len(token) > 64 * 1024:
        raise TokenRejected("The launch carried no usable id_token.")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRejected("The launch's id_token is not a JWT.") from None
    if header.get("alg") != ALGORITHM:
        raise TokenRejected(
            f"The launch's id_token is signed with {str(header.get('alg'))[:20]!r}; "
            f"only {ALGORITHM} is accepted."
        )
    return header


def verify_id_token(
    token: str,
    *,
    key_for: Callable[[str | None], Mapping[str, Any] | None],
    issuer: str,
    client_id: str,
    nonce: str,
    now: float | None = None,
) -> dict[str, Any]:
    """The id_token's claims once every check passed, else ``TokenRejected``.

    ``key_for(kid)`` returns the platform's JWK for that kid (the caller refetches the key
    set once when it does not know the kid) or None.
    """
    header = _header(token)
    jwk = key_for(header.get("kid"))
    if jwk is None:
        raise TokenRejected("The launch is signed with a key the platform does not publish.")
    try:
        key = jwt.PyJWK(dict(jwk), algorithm=ALGORITHM)
        payload: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=client_id,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRejected("The launch has expired; launch the activity again.") from None
    except jwt.InvalidAudienceError:
        raise TokenRejected("The launch is meant for another tool (aud).") from None
    except jwt.InvalidIssuerError:
        raise TokenRejected("The launch comes from another platform than expected (iss).") from None
    except jwt.ImmatureSignatureError:
        raise TokenRejected("The launch is dated in the future (iat).") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRejected(f"The launch lacks the {exc.claim!r} claim.") from None
    except (jwt.PyJWTError, ValueError, TypeError):
        raise TokenRejected("The launch's signature does not verify.") from None
    current = time.time() if now is None else now
    issued = payload.get("iat")
    if isinstance(issued, int | float) and current - issued > MAX_AGE_SECONDS + LEEWAY_SECONDS:
        raise TokenRejected("The launch was issued too long ago; launch the activity again.")
    audiences = payload["aud"] if isinstance(payload["aud"], list) else [payload["aud"]]
    if len(audiences) > 1 and payload.get("azp") != client_id:
        raise TokenRejected("The launch names several audiences but not this tool as azp.")
    if "azp" in payload and payload["azp"] != client_id:
        raise TokenRejected("The launch is authorised for another tool (azp).")
    if not secrets.compare_digest(str(payload["nonce"]), nonce):
        raise TokenRejected("The launch does not match the login that started it (nonce).")
    if payload.get(claims.VERSION) != claims.LTI_VERSION:
        raise TokenRejected("The launch is not LTI 1.3.0.")
    message_type = payload.get(claims.MESSAGE_TYPE)
    if message_type not in (claims.MessageType.RESOURCE_LINK, claims.MessageType.DEEP_LINKING):
        raise TokenRejected(f"This tool does not accept {str(message_type)[:40]!r} messages.")
    if not _short_text(payload.get(claims.DEPLOYMENT_ID)):
        raise TokenRejected("The launch lacks a deployment id.")
    if not _short_text(payload.get("sub")):
        raise TokenRejected("The launch has no user (sub); anonymous launches are not accepted.")
    if message_type == claims.MessageType.RESOURCE_LINK:
        link = payload.get(claims.RESOURCE_LINK)
        if not isinstance(link, dict) or not _short_text(link.get("id")):
            raise TokenRejected("The launch lacks its resource link id.")
    else:
        settings = payload.get(claims.DL_SETTINGS)
        if not isinstance(settings, dict) or not isinstance(
            settings.get("deep_link_return_url"), str
        ):
            raise TokenRejected("The deep-linking launch lacks its return URL.")
    return payload


def _short_text(value: object, limit: int = 255) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def _sign(payload: Mapping[str, Any], key: SigningKey) -> str:
    return jwt.encode(dict(payload), key.private_pem, algorithm=ALGORITHM, headers={"kid": key.kid})


def client_assertion(*, client_id: str, token_url: str, key: SigningKey) -> str:
    """The JWT proving the tool's identity to the platform's token endpoint (RFC 7523)."""
    now = int(time.time())
    return _sign(
        {
            "iss": client_id,
            "sub": client_id,
            "aud": token_url,
            "iat": now,
            "exp": now + ASSERTION_SECONDS,
            "jti": uuid.uuid4().hex,
        },
        key,
    )


def deep_linking_response(
    *,
    client_id: str,
    issuer: str,
    deployment_id: str,
    data: str | None,
    content_items: list[dict[str, Any]],
    message: str | None,
    key: SigningKey,
) -> str:
    """The ``LtiDeepLinkingResponse`` JWT the browser posts back to the platform."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": client_id,
        "aud": issuer,
        "iat": now,
        "exp": now + ASSERTION_SECONDS,
        "nonce": secrets.token_urlsafe(16),
        claims.MESSAGE_TYPE: claims.MessageType.DEEP_LINKING_RESPONSE.value,
        claims.VERSION: claims.LTI_VERSION,
        claims.DEPLOYMENT_ID: deployment_id,
        claims.DL_CONTENT_ITEMS: content_items,
    }
    if data is not None:
        payload[claims.DL_DATA] = data
    if message:
        payload[claims.DL_MSG] = message
    return _sign(payload, key)
