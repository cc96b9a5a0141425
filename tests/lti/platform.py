"""A real LTI 1.3 Advantage platform (an "LMS") for driving our LTI tool in tests.

``LtiPlatform.start()`` serves a small Starlette app with uvicorn in a daemon thread on a free
127.0.0.1 port. Both sides then make real HTTP calls: the platform fetches the tool's JWKS
from the URL it was registered with, and the tool fetches the platform's JWKS, asks for AGS
tokens and posts scores. ``launch`` plays the browser through the OIDC third-party login
(login initiation -> the tool's redirect to ``/auth`` -> the form_post of the id_token back to
the tool) and returns the tool's answer unfollowed; ``submit_form`` plays a browser submitting
an HTML form, which is how a deep-linking response comes back.

Built on ``lti1p3platform`` 0.1.8 (its core classes only, never its ``framework/*``
adapters, which are incomplete): ``Registration`` holds the keys and endpoints,
``OIDCLoginAbstract`` builds the login initiation, ``LTIAdvantageMessageLaunchAbstract`` builds
and signs id_tokens, ``get_access_token`` mints AGS tokens, ``validate_deeplinking_resp``
checks deep-linking content types and ``AssignmentsGradesService`` runs the AGS handlers
over our dict storage. The package's own checks are weak, so a tool bug would pass them;
this module adds, on top:

- ``/auth``: response_type ``id_token``, response_mode ``form_post``, scope ``openid``,
  prompt ``none``, the registered client_id and redirect_uri (the package posts the id_token
  to any redirect_uri), ``login_hint`` equal to the user being launched, a known and unused
  ``lti_message_hint``, nonce (never reused) and state present.
- ``/token``: RS256 only, the tool's JWKS fetched over HTTP and fetched again on an unknown
  kid, ``iss == sub == client_id``, ``aud`` naming the token URL (or the issuer), ``exp``,
  ``iat`` and ``jti`` required, a ``jti`` never seen before, only AGS scopes; RFC 6749 error
  bodies. The package accepts wrong ``iss``/``sub``, any ``aud`` and replayed assertions.
- AGS endpoints: every endpoint checks its own scope (the package accepts any AGS scope for
  every endpoint, so ``result.readonly`` could post scores), unknown or expired tokens are
  401, missing scopes 403; Score bodies are validated (userId of a launched user, numbers,
  scoreGiven <= scoreMaximum, the spec's progress enums, an ISO 8601 timestamp with a zone,
  timestamps not older than the last one) and line item bodies too.
- ``/deep_link_return``: RS256 with the tool's key, ``iss == client_id``, ``aud`` the
  issuer, nonce (never reused), ``exp``/``iat``, message type, version 1.3.0, deployment_id,
  ``data`` echoed from a deep-linking request this platform sent, at most one item
  (``accept_multiple`` is false) of type ``ltiResourceLink``.
- Dynamic Registration, which the package lacks: ``/.well-known/openid-configuration`` and
  ``/register`` (a one-time bearer registration token, the tool's registration JSON checked).

Every JWT error is a 4xx with a reason, never a 500. The platform only ever fetches loopback
URLs, so a registration cannot make it send traffic off the machine.

``LtiBrowser`` is the browser to pass to ``launch``: httpx's cookie jar sends Secure cookies
over https only (so a tool's correct ``SameSite=None; Secure`` state cookie never came back
over http://127.0.0.1) and ignores SameSite (so a Lax cookie, which breaks launches in real
browsers, passed). It follows Chrome on both; a plain httpx.Client still works without them.

Conventions: a line item's id is its URL (``lineitems``, ``scores``, ``launch(lineitem_id=)``);
an lti_message_hint, a registration token and a deep-linking ``data`` value are each good for
one use; a Score older than the last one for that user is answered 409 and not recorded.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import http.cookiejar
import ipaddress
import json
import secrets
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from html import escape
from html.parser import HTMLParser
from types import TracebackType
from typing import Any, TypeGuard, cast
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# The package ships no py.typed marker: its names are Any to mypy, hence the ignores.
from lti1p3platform.deep_linking import LtiDeepLinking  # type: ignore[import-untyped]
from lti1p3platform.exceptions import (  # type: ignore[import-untyped]
    LineItemNotFoundException,
    LtiDeepLinkingResponseException,
    LtiException,
    MissingRequiredClaim,
    PreflightRequestValidationException,
    UnsupportedGrantType,
)
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract  # type: ignore[import-untyped]
from lti1p3platform.message_launch import (  # type: ignore[import-untyped]
    LTIAdvantageMessageLaunchAbstract,
)
from lti1p3platform.oidc_login import OIDCLoginAbstract  # type: ignore[import-untyped]
from lti1p3platform.registration import Registration  # type: ignore[import-untyped]
from lti1p3platform.request import Request as PackageRequest  # type: ignore[import-untyped]
from lti1p3platform.score import (  # type: ignore[import-untyped]
    ActivityProgress,
    GradeProgress,
    UpdateScoreStatus,
)
from lti1p3platform.service_connector import (  # type: ignore[import-untyped]
    AssignmentsGradesService,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

ROLE_LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
ROLE_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ROLE_TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
ROLE_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"

MESSAGE_RESOURCE_LINK = "LtiResourceLinkRequest"
MESSAGE_DEEP_LINKING = "LtiDeepLinkingRequest"
MESSAGE_DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
AGS_SCOPES = (SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_RESULT_READONLY, SCOPE_SCORE)

CLAIM_MESSAGE_TYPE = "https://purl.imsglobal.org/spec/lti/claim/message_type"
CLAIM_VERSION = "https://purl.imsglobal.org/spec/lti/claim/version"
CLAIM_DEPLOYMENT_ID = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
CLAIM_TOOL_PLATFORM = "https://purl.imsglobal.org/spec/lti/claim/tool_platform"
CLAIM_AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
CLAIM_DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
CLAIM_DL_CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
CLAIM_DL_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"

CONTEXT_COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MEDIA_SCORE = "application/vnd.ims.lis.v1.score+json"
PRODUCT_FAMILY_CODE = "grader-test-platform"
ACCESS_TOKEN_SECONDS = 3600
ID_TOKEN_SECONDS = 300
# Clock slack for iat/exp between two processes' clocks (here one machine, so small).
LEEWAY_SECONDS = 5
FORM_CONTENT_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


class LaunchFailed(AssertionError):
    """The platform refused the tool's part of a launch (its authentication request).

    An AssertionError so a test that did not expect it fails with the platform's reason.
    """

    def __init__(self, message: str, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response


@dataclass(frozen=True)
class PlatformUser:
    sub: str
    name: str
    roles: tuple[str, ...]  # full LIS role URIs (ROLE_LEARNER, ROLE_INSTRUCTOR, ...)
    email: str | None = None


@dataclass(frozen=True)
class ToolRegistration:
    """What the platform knows about the tool: entered by an admin or sent by Dynamic
    Registration."""

    login_url: str
    redirect_uris: tuple[str, ...]
    target_link_uri: str
    jwks_url: str
    deep_link_url: str | None  # None: the tool did not register for deep linking


@dataclass(frozen=True)
class LoginInitiation:
    """The third-party initiated login the platform sends the browser to the tool with."""

    url: str  # the tool's login initiation URL
    params: tuple[tuple[str, str], ...]  # iss, target_link_uri, login_hint, lti_message_hint...
    lti_message_hint: str


@dataclass(frozen=True)
class HtmlForm:
    """One <form> of a page as a browser would submit it (before any extra fields)."""

    action: str  # absolute URL
    method: str  # "GET" or "POST"
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _SigningKey:
    kid: str
    # Kept loaded: cryptography checks an RSA key each time its PEM is loaded (~30 ms), and
    # the package would load the PEM again for every signature.
    private_key: rsa.RSAPrivateKey
    private_pem: str
    public_pem: str

    @classmethod
    def generate(cls) -> _SigningKey:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_pem = (
            private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        # The package names keys by their JWK thumbprint (jwcrypto); use the same kid so the
        # id_tokens it signs match our published JWKS.
        kid = cast(str, Registration.get_jwk(public_pem)["kid"])
        return cls(kid, private_key, _private_pem(private_key).decode(), public_pem)

    def public_jwk(self) -> dict[str, Any]:
        return cast(dict[str, Any], Registration.get_jwk(self.public_pem))


@dataclass(frozen=True)
class _PendingLaunch:
    user: PlatformUser
    message_type: str
    context_id: str
    context_title: str
    resource_link_id: str | None
    custom: Mapping[str, str] | None
    lineitem_id: str | None
    target_link_uri: str
    deep_link_data: str | None


@dataclass(frozen=True)
class _AccessToken:
    scopes: frozenset[str]
    expires_at: float
    kid: str  # the platform key that signed it


@dataclass
class _Refused(Exception):
    """A request the platform answers with a 4xx: an OAuth error code and a reason."""

    status: int
    error: str
    reason: str

    def __str__(self) -> str:
        return self.reason


class _Registration(Registration):  # type: ignore[misc]
    """The package's Registration given a loaded key object as its "PEM" (PyJWT signs with
    either) and the kid we know: its get_kid() parses the private PEM on every signature."""

    def __init__(self, key: _SigningKey) -> None:
        self._key = key

    def get_kid(self) -> str:
        return self._key.kid


def new_rsa_key_pem() -> bytes:
    """A fresh RSA private key (PKCS#8 PEM), e.g. to forge a token with a foreign key."""
    return _private_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def unverified_claims(token: str) -> dict[str, Any]:
    """A JWT's claims without checking anything, for looking at what was sent."""
    return jwt.decode(token, options={"verify_signature": False})


# --- HTML forms ------------------------------------------------------------------------------


class _FormParser(HTMLParser):
    """Collects each <form>'s action, method and successful controls, as a browser would."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, str, list[tuple[str, str]]]] = []
        self._fields: list[tuple[str, str]] | None = None
        self._textarea: tuple[str, list[str]] | None = None
        self._select: tuple[str, list[tuple[str, bool]]] | None = None
        self._option: tuple[dict[str, str | None], list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "form":
            self._fields = []
            self.forms.append((attr.get("action") or "", attr.get("method") or "get", self._fields))
            return
        if self._fields is None or "disabled" in attr:
            return
        name = attr.get("name")
        if tag == "input" and name:
            self._input(name, attr)
        elif tag == "textarea" and name:
            self._textarea = (name, [])
        elif tag == "select" and name:
            self._select = (name, [])
        elif tag == "option" and self._select is not None:
            self._option = (attr, [])

    def _input(self, name: str, attr: Mapping[str, str | None]) -> None:
        assert self._fields is not None
        kind = (attr.get("type") or "text").lower()
        # A browser sends no buttons unless clicked, and checkboxes/radios only when checked.
        if kind in {"submit", "button", "image", "reset", "file"}:
            return
        if kind in {"checkbox", "radio"} and "checked" not in attr:
            return
        default = "on" if kind in {"checkbox", "radio"} else ""
        self._fields.append((name, attr.get("value") or default))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)
        if self._option is not None:
            self._option[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._fields = None
        elif tag == "textarea" and self._textarea is not None and self._fields is not None:
            name, parts = self._textarea
            # Browsers drop the one newline that may follow <textarea>.
            self._fields.append((name, "".join(parts).removeprefix("\n")))
            self._textarea = None
        elif tag == "option" and self._option is not None and self._select is not None:
            attr, text = self._option
            value = attr.get("value")
            self._select[1].append(
                (value if value is not None else "".join(text).strip(), "selected" in attr)
            )
            self._option = None
        elif tag == "select" and self._select is not None and self._fields is not None:
            name, options = self._select
            chosen = [value for value, selected in options if selected] or [
                v for v, _ in options[:1]
            ]
            self._fields.extend((name, value) for value in chosen[:1])
            self._select = None


def parse_forms(html: str, page_url: str) -> list[HtmlForm]:
    """Every <form> of a page, with its action made absolute against the page's URL."""
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return [
        HtmlForm(
            action=urljoin(page_url, action),
            method="POST" if method.lower() == "post" else "GET",
            fields=tuple(fields),
        )
        for action, method, fields in parser.forms
    ]


def _with_query(url: str, params: Sequence[tuple[str, str]]) -> str:
    """The URL with params added after any query it already has."""
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params])
    return urlunsplit(parts._replace(query=query))


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One default context for all our clients: httpx builds a new one (~35 ms, loading the
    CA bundle) for every client otherwise, which made each JWKS fetch slow."""
    return ssl.create_default_context()


def _is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_absolute_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _is_number(value: object) -> TypeGuard[int | float]:
    # bool is an int to Python, but true/false is not a score in JSON.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 timestamp with a zone (the spec's Score.timestamp), else None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


# --- adapters to lti1p3platform -------------------------------------------------------------


class _PackageRequest(PackageRequest):  # type: ignore[misc]
    """The package's request shape, filled from what our Starlette handler already read
    (its own FastAPI adapter is commented out)."""

    def build_metadata(self, request: Any) -> Any:
        return request


def _package_request(
    *,
    method: str,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, Any] | None = None,
    form: Mapping[str, Any] | None = None,
    body: Any = None,
    path: str = "",
) -> Any:
    return _PackageRequest(
        {
            "method": method,
            "form_data": dict(form or {}),
            "get_data": dict(query or {}),
            "headers": headers or {},
            "content_type": None,
            "path": path,
            "json": body,
        }
    )


class _PlatformConfig(LTI1P3PlatformConfAbstract):  # type: ignore[misc]
    """Built per request around one Registration: the package keeps per-call JWT state on
    the instance (``_jwt``), so one shared by server threads could mix two calls."""

    def init_platform_config(self, **kwargs: Any) -> None:
        self._given_registration = kwargs["registration"]
        # get_access_token and validate_deeplinking_resp read _registration without calling
        # get_registration() first, so it must be set up front.
        self._registration = self._given_registration
        # The package checks content item types only when this set is not empty.
        self.set_accepted_deeplinking_types(["ltiResourceLink"])

    def get_registration_by_params(self, **kwargs: Any) -> Any:
        return self._given_registration


class _OidcLogin(OIDCLoginAbstract):  # type: ignore[misc]
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        # The browser is simulated by LtiPlatform.launch, so the "redirect" is just the URL.
        return url


class _MessageLaunch(LTIAdvantageMessageLaunchAbstract):  # type: ignore[misc]
    def __init__(self, request: Any, platform_config: Any) -> None:
        super().__init__(request, platform_config)
        # get_launch_message needs it before lti_launch() would set it (valid_id_token_claims).
        self._registration = platform_config.get_registration()

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> str:
        return _auto_submit_form(
            str(launch_data["launch_url"]),
            {"id_token": str(launch_data["id_token"]), "state": str(launch_data["state"])},
        )


def _auto_submit_form(action: str, fields: Mapping[str, str]) -> str:
    """The OIDC form_post page: a form a real browser submits on load."""
    inputs = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in fields.items()
    )
    return (
        '<!doctype html><html lang="en"><head><title>Launching</title></head>'
        '<body onload="document.forms[0].submit()">'
        f'<form method="post" action="{escape(action)}">{inputs}'
        '<noscript><button type="submit">Continue</button></noscript></form></body></html>'
    )


class _GradesService(AssignmentsGradesService):  # type: ignore[misc]
    """The package's AGS handlers over the platform's dicts. Our routes check the token's
    scope for each endpoint and validate bodies before calling its handlers."""

    def __init__(
        self, platform: LtiPlatform, request: Any, config: Any, context_id: str, item: str | None
    ) -> None:
        super().__init__(request, config, platform.lineitems_url(context_id), item)
        self._platform = platform
        self._context_id = context_id

    def find_lineitems(
        self,
        page: Any = 1,
        limit: Any = None,
        line_item_id: Any = None,
        resource_link_id: Any = None,
        resource_id: Any = None,
        tag: Any = None,
        **_ignored: Any,
    ) -> dict[str, Any]:
        wanted = {"resourceLinkId": resource_link_id, "resourceId": resource_id, "tag": tag}
        with self._platform._lock:
            items = [
                dict(item)
                for item_id, item in self._platform.lineitems.items()
                if self._platform._lineitem_context[item_id] == self._context_id
                and all(v is None or item.get(k) == v for k, v in wanted.items())
            ]
        if isinstance(limit, str) and limit.isdigit():
            items = items[: int(limit)]
        return {"content": items, "has_next": False, "next": None}

    def find_lineitem(self, line_item_id: str) -> dict[str, Any]:
        with self._platform._lock:
            item = self._platform.lineitems.get(line_item_id)
            if item is None or self._platform._lineitem_context[line_item_id] != self._context_id:
                raise LineItemNotFoundException(line_item_id)
            return dict(item)

    def create_lineitem(self, creation_data: dict[str, Any]) -> dict[str, Any]:
        return self._platform._store_lineitem(self._context_id, creation_data)

    def update_lineitem(self, update_data: dict[str, Any]) -> dict[str, Any]:
        item_id = str(update_data["id"])
        self.find_lineitem(item_id)
        with self._platform._lock:
            self._platform.lineitems[item_id] = dict(update_data)
            return dict(update_data)

    def delete_lineitem(self, line_item_id: str) -> None:
        self.find_lineitem(line_item_id)
        with self._platform._lock:
            del self._platform.lineitems[line_item_id]

    def update_score(self, line_item_id: str, score: dict[str, Any]) -> Any:
        self.find_lineitem(line_item_id)
        with self._platform._lock:
            received = self._platform.scores.setdefault(line_item_id, [])
            earlier = [s for s in received if s["userId"] == score["userId"]]
            new = _parse_timestamp(score["timestamp"])
            last = _parse_timestamp(earlier[-1]["timestamp"]) if earlier else None
            assert new is not None  # _check_score ran before
            # AGS: a platform must not apply a score older than the last one it has for the
            # user; the same timestamp may be applied again (a retry).
            if last is not None and new < last:
                return UpdateScoreStatus.OLD_TIMESTAMP
            received.append(dict(score))
            return UpdateScoreStatus.SUCCESS

    def get_results(
        self, line_item_id: str, page: Any = 1, limit: Any = None, user_id: Any = None, **_: Any
    ) -> dict[str, Any]:
        item = self.find_lineitem(line_item_id)
        with self._platform._lock:
            received = list(self._platform.scores.get(line_item_id, []))
        latest: dict[str, dict[str, Any]] = {}
        for score in received:
            latest[score["userId"]] = score
        results = [
            _result(line_item_id, item, score)
            for uid, score in latest.items()
            if user_id is None or uid == user_id
        ]
        if isinstance(limit, str) and limit.isdigit():
            results = results[: int(limit)]
        return {"content": results, "has_next": False, "next": None}


def _result(line_item_id: str, item: Mapping[str, Any], score: Mapping[str, Any]) -> dict[str, Any]:
    """The AGS Result a platform derives from the last Score, scaled to the line item."""
    result: dict[str, Any] = {
        "id": f"{line_item_id}/results/{quote(str(score['userId']), safe='')}",
        "scoreOf": line_item_id,
        "userId": score["userId"],
        "resultMaximum": item["scoreMaximum"],
    }
    if "scoreGiven" in score:
        result["resultScore"] = score["scoreGiven"] / score["scoreMaximum"] * item["scoreMaximum"]
    if "comment" in score:
        result["comment"] = score["comment"]
    return result


def _package_response(response: Any) -> Response:
    """The package's Response as ours: page results become the spec's plain JSON arrays."""
    code = int(response.code)
    if code >= 400:
        return JSONResponse({"error": str(response.message)}, status_code=code)
    result = response.result
    if result is None:
        return Response(status_code=code)
    if isinstance(result, dict) and "content" in result and "has_next" in result:
        result = result["content"]
    return JSONResponse(result, status_code=code, media_type=str(response.media_type))


def _check_score(body: object, known_users: Mapping[str, PlatformUser]) -> str | None:
    """Why a Score body is invalid per AGS 2.0, or None."""
    if not isinstance(body, dict):
        return "the Score must be a JSON object"
    user_id = body.get("userId")
    if not isinstance(user_id, str) or not user_id:
        return "userId must be a non-empty string (the user's sub)"
    if user_id not in known_users:
        return f"userId {user_id!r} is not a user this platform launched"
    given, maximum = body.get("scoreGiven"), body.get("scoreMaximum")
    if given is not None and (not _is_number(given) or given < 0):
        return "scoreGiven must be a number >= 0"
    if maximum is not None and (not _is_number(maximum) or maximum <= 0):
        return "scoreMaximum must be a number > 0"
    if given is not None and maximum is None:
        return "scoreMaximum is required when scoreGiven is given"
    # The spec tolerates extra credit; our tool never gives it, so here it marks a bug.
    if given is not None and maximum is not None and given > maximum:
        return "scoreGiven is greater than scoreMaximum"
    activity = {p.value for p in ActivityProgress}
    if body.get("activityProgress") not in activity:
        return f"activityProgress must be one of {sorted(activity)}"
    grading = {p.value for p in GradeProgress}
    if body.get("gradingProgress") not in grading:
        return f"gradingProgress must be one of {sorted(grading)}"
    if _parse_timestamp(body.get("timestamp")) is None:
        return "timestamp must be an ISO 8601 date-time with a time zone"
    if "comment" in body and not isinstance(body["comment"], str | None):
        return "comment must be a string"
    return None


def _check_lineitem(body: object) -> str | None:
    """Why a LineItem body is invalid per AGS 2.0, or None."""
    if not isinstance(body, dict):
        return "the line item must be a JSON object"
    label = body.get("label")
    if not isinstance(label, str) or not label.strip():
        return "label must be a non-empty string"
    maximum = body.get("scoreMaximum")
    if not _is_number(maximum) or maximum <= 0:
        return "scoreMaximum must be a number > 0"
    for name in ("resourceLinkId", "resourceId", "tag"):
        if name in body and not isinstance(body[name], str):
            return f"{name} must be a string"
    for name in ("startDateTime", "endDateTime"):
        if name in body and _parse_timestamp(body[name]) is None:
            return f"{name} must be an ISO 8601 date-time with a time zone"
    if "gradesReleased" in body and not isinstance(body["gradesReleased"], bool):
        return "gradesReleased must be a boolean"
    return None


def _sign_hmac(
    claims: Mapping[str, Any], secret: bytes, alg: str, headers: Mapping[str, Any]
) -> str:
    """An HS* JWT keyed with any bytes. PyJWT refuses a PEM as an HMAC secret, which is
    exactly what an algorithm-confusion forgery needs."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"typ": "JWT", **headers, "alg": alg}).encode())
    payload = b64(json.dumps(dict(claims)).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), digest).digest()
    return f"{header}.{payload}.{b64(signature)}"


class _BrowserCookiePolicy(http.cookiejar.DefaultCookiePolicy):
    """Cookie rules of a current browser (Chrome) that http.cookiejar lacks.

    Secure cookies are sent to loopback over http (browsers treat localhost as a secure
    context; the stdlib sends them over https only). SameSite=None without Secure is not
    stored. While ``cross_site`` is set, only SameSite=None cookies are sent, a missing
    SameSite counting as Lax (Chrome's default).
    """

    cross_site = False

    def set_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        if _same_site(cookie) == "none" and not cookie.secure:
            return False
        return super().set_ok(cookie, request)

    def return_ok_secure(
        self, cookie: http.cookiejar.Cookie, request: urllib.request.Request
    ) -> bool:
        if cookie.secure and _is_loopback_url(request.get_full_url()):
            return True
        return super().return_ok_secure(cookie, request)

    def return_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        if self.cross_site and _same_site(cookie) != "none":
            return False
        return super().return_ok(cookie, request)


def _same_site(cookie: http.cookiejar.Cookie) -> str:
    for name in ("SameSite", "samesite", "Samesite"):
        value = cookie.get_nonstandard_attr(name)
        if value:
            return value.lower()
    return "lax"


class LtiBrowser(httpx.Client):
    """A test browser for launches: an httpx client with a browser's cookie rules
    (``_BrowserCookiePolicy``). ``LtiPlatform`` marks the steps that cross from the
    platform's pages to the tool (login initiation, the id_token form_post, the registration
    initiation) as cross-site, as they are in production; on 127.0.0.1 a browser would call
    the two one site, so a plain httpx.Client would let a SameSite=Lax state cookie pass.
    """

    def __init__(self, *, timeout: float = 10.0) -> None:
        self.cookie_policy = _BrowserCookiePolicy()
        self.cookie_jar = http.cookiejar.CookieJar(self.cookie_policy)
        super().__init__(cookies=self.cookie_jar, timeout=timeout, verify=_ssl_context())

    def build_request(self, *args: Any, **kwargs: Any) -> httpx.Request:
        request = super().build_request(*args, **kwargs)
        # httpx copies the cookies into a jar with the default policy for each request, so
        # ours would only judge Set-Cookie; the Cookie header is chosen again here by it.
        # (Cookies passed to a single request are dropped: tests have no need for them.)
        stand_in = urllib.request.Request(str(request.url), method=request.method)
        self.cookie_jar.add_cookie_header(stand_in)
        header = stand_in.get_header("Cookie")
        if header:
            request.headers["Cookie"] = header
        else:
            request.headers.pop("Cookie", None)
        return request


@contextmanager
def _cross_site(browser: httpx.Client, crossing: bool = True) -> Iterator[None]:
    """While a request goes from one site's page to the other (LtiBrowser only)."""
    if not crossing or not isinstance(browser, LtiBrowser):
        yield
        return
    browser.cookie_policy.cross_site = True
    try:
        yield
    finally:
        browser.cookie_policy.cross_site = False


class _Server(uvicorn.Server):
    """uvicorn that says when it is listening, so start() waits without polling."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


# --- the platform ----------------------------------------------------------------------------


class LtiPlatform:
    """An LTI 1.3 Advantage platform on 127.0.0.1 (see the module docstring).

    Storage is plain dicts and lists, read directly by tests; the server thread writes them
    under ``_lock``.
    """

    def __init__(self, *, deployment_id: str = "deployment-1") -> None:
        # Bound now so the URLs exist before the server runs; uvicorn serves this socket.
        # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets that say
        # they are TCP, and without it every keep-alive request waited ~40 ms (Nagle).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.issuer = self.base_url
        self.client_id = f"client-{secrets.token_hex(8)}"
        self.deployment_id = deployment_id
        self.auth_login_url = f"{self.base_url}/auth"
        self.token_url = f"{self.base_url}/token"
        self.jwks_url = f"{self.base_url}/jwks"
        self.openid_configuration_url = f"{self.base_url}/.well-known/openid-configuration"
        self.registration_url = f"{self.base_url}/register"
        self.deep_link_return_url = f"{self.base_url}/deep_link_return"
        self.return_url = f"{self.base_url}/return"

        self._lock = threading.Lock()
        self._keys: list[_SigningKey] = [_SigningKey.generate()]
        self._tool: ToolRegistration | None = None
        self._tool_jwks: dict[str, Any] | None = None
        self._pending: dict[str, _PendingLaunch] = {}
        self._course_pages: dict[str, tuple[LoginInitiation, str]] = {}  # hint -> page
        self._deep_link_requests: dict[str, _PendingLaunch] = {}
        self._users: dict[str, PlatformUser] = {}
        self._auth_nonces: set[str] = set()
        self._assertion_jtis: set[str] = set()
        self._deep_link_nonces: set[str] = set()
        self._access_tokens: dict[str, _AccessToken] = {}
        self._registration_tokens: set[str] = set()
        self._lineitem_context: dict[str, str] = {}
        self._lineitem_count = 0

        self.lineitems: dict[str, dict[str, Any]] = {}  # id (its URL) -> line item JSON
        self.scores: dict[str, list[dict[str, Any]]] = {}  # line item id -> Score bodies
        self.deep_link_responses: list[dict[str, Any]] = []  # verified claims
        self.resource_links: dict[str, dict[str, Any]] = {}  # created from deep linking
        self.token_requests: list[dict[str, Any]] = []
        self.registrations: list[dict[str, Any]] = []
        self.auth_requests: list[dict[str, str]] = []  # the tool's OIDC auth requests
        self.launches: list[dict[str, Any]] = []  # claims of the id_tokens issued by /auth

        # The platform's own side of the browser (/auth and its own pages): a client of its
        # own, so a test can pass a browser that only reaches the tool (e.g. a TestClient).
        self._http = httpx.Client(timeout=10.0, verify=_ssl_context())
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def start(cls, *, deployment_id: str = "deployment-1") -> LtiPlatform:
        platform = cls(deployment_id=deployment_id)
        platform._serve()
        return platform

    def _serve(self) -> None:
        config = uvicorn.Config(
            self._app(),
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            loop="asyncio",
            http="h11",
            timeout_graceful_shutdown=2,
        )
        self._server = _Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"lti-platform-{self.base_url}",
            daemon=True,
        )
        self._thread.start()
        if not self._server.ready.wait(10) or not self._server.started:
            raise RuntimeError("the LTI test platform did not start")

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
        self._http.close()
        self._socket.close()

    def __enter__(self) -> LtiPlatform:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- registration ------------------------------------------------------------------------

    def register_tool(self, tool_base_url: str, *, jwks_url: str | None = None) -> None:
        """Manual registration, as an admin types it in. ``jwks_url`` overrides the tool's
        usual path (the harness's own tests point it at the platform's JWKS)."""
        base = tool_base_url.rstrip("/")
        self._set_tool(
            ToolRegistration(
                login_url=f"{base}/lti/login",
                redirect_uris=(f"{base}/lti/launch",),
                target_link_uri=f"{base}/lti/launch",
                jwks_url=jwks_url or f"{base}/.well-known/jwks.json",
                deep_link_url=f"{base}/lti/launch",
            )
        )

    def _set_tool(self, tool: ToolRegistration) -> None:
        with self._lock:
            self._tool = tool
            self._tool_jwks = None  # a new registration may come with new keys

    @property
    def tool(self) -> ToolRegistration | None:
        return self._tool

    def _require_tool(self) -> ToolRegistration:
        tool = self._tool
        if tool is None:
            raise RuntimeError("no tool registered: call register_tool() first")
        return tool

    # -- keys and tokens ---------------------------------------------------------------------

    @property
    def kid(self) -> str:
        """The kid of the key the platform signs with now."""
        return self._keys[-1].kid

    @property
    def private_key_pem(self) -> bytes:
        return self._keys[-1].private_pem.encode()

    def rotate_key(self) -> None:
        """Sign with a new key and kid from now on; the old public keys stay in /jwks."""
        with self._lock:
            self._keys.append(_SigningKey.generate())

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in self._keys]}

    def sign_id_token(
        self,
        claims: Mapping[str, Any],
        *,
        key_pem: bytes | None = None,
        kid: str | None = None,
        alg: str = "RS256",
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """Sign arbitrary claims, for forged-token tests. Without ``key_pem`` the platform's
        current key (and its kid unless ``kid`` is given); ``alg="none"`` signs nothing and
        ``HS256`` with a PEM as the secret gives an algorithm-confusion token."""
        extra: dict[str, Any] = dict(headers or {})
        if kid is not None:
            extra["kid"] = kid
        elif key_pem is None:
            extra["kid"] = self.kid
        if alg == "none":
            return jwt.encode(dict(claims), "", algorithm="none", headers=extra)
        if alg.startswith("HS"):
            return _sign_hmac(claims, key_pem or self.private_key_pem, alg, extra)
        key = key_pem if key_pem is not None else self._keys[-1].private_key
        return jwt.encode(dict(claims), key, algorithm=alg, headers=extra)

    def _registration(self, key: _SigningKey | None = None) -> Any:
        """A package Registration for one request, signing with ``key`` (default: current)."""
        key = key or self._keys[-1]
        tool = self._tool
        registration = (
            _Registration(key)
            .set_iss(self.issuer)
            .set_client_id(self.client_id)
            .set_deployment_id(self.deployment_id)
            .set_platform_public_key(key.public_pem)
            .set_platform_private_key(key.private_key)
        )
        if tool is not None:
            registration.set_launch_url(tool.target_link_uri).set_oidc_login_url(
                tool.login_url
            ).set_tool_key_set_url(tool.jwks_url)
            if tool.deep_link_url:
                registration.set_deeplink_launch_url(tool.deep_link_url)
        if self._tool_jwks is not None:
            # Given directly so the package never fetches with blocking `requests` itself.
            registration.set_tool_key_set(self._tool_jwks)
        return registration

    def _config(self, key: _SigningKey | None = None) -> Any:
        return _PlatformConfig(registration=self._registration(key))

    def expire_access_tokens(self) -> None:
        """Make every AGS token issued so far expired, to test the tool's renewal."""
        with self._lock:
            for token, issued in self._access_tokens.items():
                self._access_tokens[token] = _AccessToken(issued.scopes, 0.0, issued.kid)

    # -- launches ----------------------------------------------------------------------------

    @property
    def known_users(self) -> Mapping[str, PlatformUser]:
        """Users this platform has launched (or prepared a launch for), by sub."""
        return dict(self._users)

    def _new_pending(
        self,
        *,
        user: PlatformUser,
        message_type: str,
        context_id: str,
        context_title: str,
        resource_link_id: str | None,
        custom: Mapping[str, str] | None,
        lineitem_id: str | None,
        target_link_uri: str | None,
    ) -> _PendingLaunch:
        tool = self._require_tool()
        if message_type == MESSAGE_DEEP_LINKING:
            if tool.deep_link_url is None and target_link_uri is None:
                raise RuntimeError("the tool did not register for deep linking")
            target = target_link_uri or tool.deep_link_url or ""
            data: str | None = f"opaque-{secrets.token_hex(8)}"
        elif message_type == MESSAGE_RESOURCE_LINK:
            target, data = target_link_uri or tool.target_link_uri, None
        else:
            raise ValueError(f"unsupported message type {message_type!r}")
        pending = _PendingLaunch(
            user=user,
            message_type=message_type,
            context_id=context_id,
            context_title=context_title,
            resource_link_id=resource_link_id,
            custom=custom,
            lineitem_id=lineitem_id,
            target_link_uri=target,
            deep_link_data=data,
        )
        with self._lock:
            self._users[user.sub] = user
            if data is not None:
                self._deep_link_requests[data] = pending
        return pending

    def prepare_launch(
        self,
        *,
        user: PlatformUser,
        message_type: str = MESSAGE_RESOURCE_LINK,
        context_id: str = "course-1",
        context_title: str = "History 101",
        resource_link_id: str | None = "link-1",
        custom: Mapping[str, str] | None = None,
        lineitem_id: str | None = None,
        target_link_uri: str | None = None,
    ) -> LoginInitiation:
        """The login initiation for a launch, remembered under its lti_message_hint until the
        tool's authentication request comes back (``launch`` does the rest)."""
        pending = self._new_pending(
            user=user,
            message_type=message_type,
            context_id=context_id,
            context_title=context_title,
            resource_link_id=resource_link_id,
            custom=custom,
            lineitem_id=lineitem_id,
            target_link_uri=target_link_uri,
        )
        hint = secrets.token_urlsafe(16)
        with self._lock:
            self._pending[hint] = pending
        login = _OidcLogin(None, self._config())
        login.set_lti_message_hint(hint=hint)
        login.set_launch_url(pending.target_link_uri)
        url = cast(str, login.initiate_login(user.sub))
        tool = self._require_tool()
        # The package appends its parameters to the login URL's own query; keep them apart so
        # they can also travel as a POST body.
        own = parse_qsl(urlsplit(tool.login_url).query, keep_blank_values=True)
        params = parse_qsl(urlsplit(url).query, keep_blank_values=True)[len(own) :]
        return LoginInitiation(url=tool.login_url, params=tuple(params), lti_message_hint=hint)

    def launch(
        self,
        browser: httpx.Client,
        *,
        user: PlatformUser,
        message_type: str = MESSAGE_RESOURCE_LINK,
        context_id: str = "course-1",
        context_title: str = "History 101",
        resource_link_id: str | None = "link-1",
        custom: Mapping[str, str] | None = None,
        lineitem_id: str | None = None,
        target_link_uri: str | None = None,
        use_post: bool = True,
        replace_id_token: Callable[[dict[str, Any]], str] | None = None,
    ) -> httpx.Response:
        """A whole launch as a browser does it; the tool's final answer, not followed.

        If the tool's login answer is not a redirect (or auto-submit form) to the platform's
        /auth, that answer is returned. If /auth refuses the tool's request, LaunchFailed.
        ``replace_id_token`` gets the claims the platform signed and returns the id_token to
        post instead (e.g. ``lambda c: platform.sign_id_token({**c, "aud": "x"})``).
        ``resource_link_id`` is ignored for deep linking, whose request has no resource link.
        """
        login = self.prepare_launch(
            user=user,
            message_type=message_type,
            context_id=context_id,
            context_title=context_title,
            resource_link_id=resource_link_id,
            custom=custom,
            lineitem_id=lineitem_id,
            target_link_uri=target_link_uri,
        )
        method = "POST" if use_post else "GET"
        with _cross_site(browser):
            answer = self._send(browser, method, login.url, login.params)
        auth_request = self._auth_request_in(answer)
        if auth_request is None:
            return answer
        auth_answer = self._send(
            browser, auth_request.method, auth_request.action, auth_request.fields
        )
        if auth_answer.status_code != 200:
            raise LaunchFailed(
                f"the platform refused the tool's authentication request "
                f"({auth_answer.status_code}): {auth_answer.text}",
                auth_answer,
            )
        form = parse_forms(auth_answer.text, str(auth_answer.url))[0]
        fields = dict(form.fields)
        if replace_id_token is not None:
            fields["id_token"] = replace_id_token(unverified_claims(fields["id_token"]))
        with _cross_site(browser):
            return self._send(browser, "POST", form.action, list(fields.items()))

    def _auth_request_in(self, answer: httpx.Response) -> HtmlForm | None:
        """The tool's authentication request to /auth: a redirect, or a form it submits."""
        if answer.is_redirect:
            location = urljoin(str(answer.url), answer.headers.get("location", ""))
            if location.split("?")[0] == self.auth_login_url:
                return HtmlForm(action=location, method="GET", fields=())
            return None
        if answer.status_code == 200 and "html" in answer.headers.get("content-type", ""):
            for form in parse_forms(answer.text, str(answer.url)):
                if form.action.split("?")[0] == self.auth_login_url:
                    return form
        return None

    def _send(
        self,
        browser: httpx.Client,
        method: str,
        url: str,
        fields: Sequence[tuple[str, str]] = (),
    ) -> httpx.Response:
        """One browser request, never following redirects. The platform's own URLs go
        through its own client: it sets no cookies, so nothing a browser would carry is lost."""
        client = self._http if self._is_platform_url(url) else browser
        if method == "GET":
            return client.get(_with_query(url, fields) if fields else url, follow_redirects=False)
        return client.post(
            url, content=urlencode(list(fields)), headers=FORM_CONTENT_TYPE, follow_redirects=False
        )

    def submit_form(
        self,
        browser: httpx.Client,
        response: httpx.Response,
        *,
        fields: Mapping[str, str] | None = None,
        form_index: int = 0,
    ) -> httpx.Response:
        """Submit a form of ``response`` as a browser would (urlencoded), with ``fields``
        replacing or adding values; the answer, not followed."""
        forms = parse_forms(response.text, str(response.url))
        if form_index >= len(forms):
            raise AssertionError(f"no form #{form_index} in the page:\n{response.text[:2000]}")
        form = forms[form_index]
        extra = dict(fields or {})
        kept: list[tuple[str, str]] = []
        replaced: set[str] = set()
        for name, value in form.fields:
            if name not in extra:
                kept.append((name, value))
            elif name not in replaced:  # a replaced name keeps one occurrence
                replaced.add(name)
                kept.append((name, extra[name]))
        kept.extend((name, value) for name, value in extra.items() if name not in replaced)
        crossing = self._is_platform_url(str(response.url)) != self._is_platform_url(form.action)
        with _cross_site(browser, crossing):
            return self._send(browser, form.method, form.action, kept)

    def _is_platform_url(self, url: str) -> bool:
        return url.startswith(self.base_url + "/")

    def valid_id_token_claims(
        self,
        user: PlatformUser,
        nonce: str,
        *,
        message_type: str = MESSAGE_RESOURCE_LINK,
        context_id: str = "course-1",
        context_title: str = "History 101",
        resource_link_id: str | None = "link-1",
        custom: Mapping[str, str] | None = None,
        lineitem_id: str | None = None,
        target_link_uri: str | None = None,
    ) -> dict[str, Any]:
        """The claims a normal launch would carry (iat/exp now), for a test to tweak one."""
        pending = self._new_pending(
            user=user,
            message_type=message_type,
            context_id=context_id,
            context_title=context_title,
            resource_link_id=resource_link_id,
            custom=custom,
            lineitem_id=lineitem_id,
            target_link_uri=target_link_uri,
        )
        launch = self._message_launch(pending, {"nonce": nonce})
        claims = cast(dict[str, Any], launch.get_launch_message())
        now = int(time.time())
        return {**claims, "nonce": nonce, "iat": now, "exp": now + ID_TOKEN_SECONDS}

    def _message_launch(self, pending: _PendingLaunch, preflight: Mapping[str, str]) -> Any:
        """The package's launch builder with every claim of ``pending`` set."""
        launch = _MessageLaunch(_package_request(method="GET", query=preflight), self._config())
        user = pending.user
        launch.set_user_data(
            user.sub, list(user.roles), full_name=user.name, email_address=user.email
        )
        launch.set_launch_context_claim(
            pending.context_id,
            context_types=[CONTEXT_COURSE_OFFERING],
            context_title=pending.context_title,
        )
        launch.set_launch_presentation_claim(document_target="iframe", return_url=self.return_url)
        if pending.custom:
            launch.set_custom_parameters_claim(dict(pending.custom))
        launch.set_launch_url(pending.target_link_uri)
        launch.set_extra_claims(
            {
                CLAIM_TOOL_PLATFORM: {
                    "guid": self.issuer,
                    "name": "LTI test platform",
                    "product_family_code": PRODUCT_FAMILY_CODE,
                    "version": "1.0",
                }
            }
        )
        if pending.message_type == MESSAGE_DEEP_LINKING:
            launch.set_extra_claims(self._deep_linking_claims(pending))
        else:
            if pending.resource_link_id is not None:
                launch.set_resource_link_claim(pending.resource_link_id)
            launch.set_ags(
                self.lineitems_url(pending.context_id),
                pending.lineitem_id,
                allow_creating_lineitems=True,
            )
        return launch

    def _deep_linking_claims(self, pending: _PendingLaunch) -> dict[str, Any]:
        # Not the package's set_dl: it hard-codes accept_multiple true and an "embed" target,
        # and silently sends a resource link launch when no deep-link URL is registered.
        # Its claim builder is used, then those settings are put right.
        claim = LtiDeepLinking(self.deep_link_return_url).get_lti_deep_linking_launch_claim(
            title="Add an activity", accept_types={"ltiResourceLink"}
        )
        claim[CLAIM_DL_SETTINGS].update(
            {
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": False,
                "auto_create": True,
                "data": pending.deep_link_data,
            }
        )
        return {CLAIM_MESSAGE_TYPE: MESSAGE_DEEP_LINKING, **cast(dict[str, Any], claim)}

    # -- line items (test side) --------------------------------------------------------------

    def lineitems_url(self, context_id: str) -> str:
        return f"{self.base_url}/contexts/{quote(context_id, safe='')}/lineitems"

    def create_lineitem(
        self,
        *,
        label: str,
        score_maximum: float,
        resource_link_id: str | None,
        context_id: str = "course-1",
        resource_id: str | None = None,
        tag: str | None = None,
    ) -> str:
        """A line item made on the platform side (as an instructor would); its URL (= id)."""
        body: dict[str, Any] = {"label": label, "scoreMaximum": score_maximum}
        optional = {"resourceLinkId": resource_link_id, "resourceId": resource_id, "tag": tag}
        body.update({k: v for k, v in optional.items() if v is not None})
        return str(self._store_lineitem(context_id, body)["id"])

    def _store_lineitem(self, context_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._lineitem_count += 1
            item_id = f"{self.lineitems_url(context_id)}/{self._lineitem_count}"
            # The platform names line items; an id the tool sent is not kept.
            item = {**{k: v for k, v in body.items() if k != "id"}, "id": item_id}
            self.lineitems[item_id] = item
            self._lineitem_context[item_id] = context_id
            return dict(item)

    # -- the app -----------------------------------------------------------------------------

    def _app(self) -> Starlette:
        items = "/contexts/{context_id}/lineitems"
        item = items + "/{item}"
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._openid_configuration),
                Route("/register", self._register, methods=["POST"]),
                Route("/jwks", self._jwks, methods=["GET"]),
                Route("/auth", self._auth, methods=["GET", "POST"]),
                Route("/token", self._token, methods=["POST"]),
                Route("/deep_link_return", self._deep_link_return, methods=["POST"]),
                Route("/return", self._return, methods=["GET"]),
                Route("/course-page", self._course_page, methods=["GET"]),
                Route(items, self._lineitems, methods=["GET", "POST"]),
                Route(item, self._lineitem, methods=["GET", "PUT", "DELETE"]),
                Route(item + "/scores", self._scores, methods=["POST"]),
                Route(item + "/results", self._results, methods=["GET"]),
            ]
        )

    async def _jwks(self, request: Request) -> Response:
        return JSONResponse(self.jwks())

    # A course page with the activity in an iframe --------------------------------------------

    def course_page_url(self, login: LoginInitiation, *, title: str = "Activity") -> str:
        """The URL of a course page of this platform that embeds the launch ``login`` (from
        ``prepare_launch``) in an ``<iframe>``, as an LMS shows an activity to a learner in a
        real browser: the iframe starts at the tool's login initiation."""
        with self._lock:
            self._course_pages[login.lti_message_hint] = (login, title)
        return f"{self.base_url}/course-page?{urlencode({'hint': login.lti_message_hint})}"

    async def _course_page(self, request: Request) -> Response:
        hint = request.query_params.get("hint", "")
        with self._lock:
            found = self._course_pages.get(hint)
            # A page for a launch still pending only: /auth consumes the hint, once.
            usable = found is not None and hint in self._pending
        if found is None or not usable:
            return PlainTextResponse("no launch is pending for this hint", status_code=404)
        login, title = found
        with self._lock:
            pending = self._pending[hint]
        src = _with_query(login.url, login.params)
        return HTMLResponse(
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(pending.context_title)} · LTI test platform</title></head><body>"
            f"<header><p>LTI test platform · {escape(pending.context_title)}</p></header>"
            f"<main><h1>{escape(title)}</h1>"
            f'<iframe src="{escape(src)}" title="{escape(title)}" width="960" height="720" '
            'allow="clipboard-write"></iframe></main></body></html>'
        )

    async def _return(self, request: Request) -> Response:
        return HTMLResponse("<!doctype html><title>Back in the course</title><p>Back.</p>")

    # /auth ----------------------------------------------------------------------------------

    async def _auth(self, request: Request) -> Response:
        if request.method == "POST":
            params = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        else:
            params = dict(request.query_params)
        with self._lock:
            self.auth_requests.append(dict(params))
        try:
            pending = self._check_auth_request(params)
            launch = self._message_launch(pending, params)
            page = cast(str, launch.lti_launch())
        except _Refused as refused:
            return PlainTextResponse(refused.reason, status_code=refused.status)
        except PreflightRequestValidationException:
            return PlainTextResponse("the package refused the preflight response", 400)
        form = parse_forms(page, self.auth_login_url)[0]
        with self._lock:
            self.launches.append(unverified_claims(dict(form.fields)["id_token"]))
        return HTMLResponse(page)

    def _check_auth_request(self, params: Mapping[str, str]) -> _PendingLaunch:
        """The OIDC authentication request checks the package leaves out; consumes the hint."""
        tool = self._tool
        if tool is None:
            raise _Refused(400, "invalid_request", "no tool is registered")
        expected = {
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": self.client_id,
        }
        for name, value in expected.items():
            if params.get(name) != value:
                raise _Refused(400, "invalid_request", f"{name} must be {value!r}")
        if "openid" not in params.get("scope", "").split():
            raise _Refused(400, "invalid_scope", "scope must include 'openid'")
        if params.get("redirect_uri") not in tool.redirect_uris:
            raise _Refused(400, "invalid_request", "redirect_uri is not a registered one")
        for name in ("nonce", "state"):
            if not params.get(name):
                raise _Refused(400, "invalid_request", f"{name} is missing")
        hint = params.get("lti_message_hint", "")
        with self._lock:
            pending = self._pending.get(hint)
            if pending is None:
                raise _Refused(400, "invalid_request", "lti_message_hint is unknown or used")
            if params.get("login_hint") != pending.user.sub:
                raise _Refused(400, "login_required", "login_hint is not the user being launched")
            if params["nonce"] in self._auth_nonces:
                raise _Refused(400, "invalid_request", "nonce was used before")
            self._auth_nonces.add(params["nonce"])
            del self._pending[hint]
        return pending

    # tool JWTs -----------------------------------------------------------------------------

    async def _tool_key(self, kid: str) -> jwt.PyJWK:
        """The tool's key ``kid`` from its JWKS over HTTP, fetched again when kid is unknown."""
        for refresh in (False, True):
            jwks = self._tool_jwks
            if jwks is None or refresh:
                jwks = await self._fetch_tool_jwks()
            for candidate in jwks.get("keys", []):
                if isinstance(candidate, dict) and candidate.get("kid") == kid:
                    try:
                        return jwt.PyJWK(candidate)
                    except jwt.PyJWTError as exc:
                        raise _Refused(
                            401, "invalid_client", f"unusable JWK {kid!r}: {exc}"
                        ) from exc
        raise _Refused(401, "invalid_client", f"no key with kid {kid!r} in the tool's JWKS")

    async def _fetch_tool_jwks(self) -> dict[str, Any]:
        tool = self._tool
        if tool is None:
            raise _Refused(401, "invalid_client", "no tool is registered")
        if not _is_loopback_url(tool.jwks_url):
            raise _Refused(401, "invalid_client", f"will not fetch non-loopback {tool.jwks_url}")
        try:
            async with httpx.AsyncClient(timeout=5.0, verify=_ssl_context()) as client:
                answer = await client.get(tool.jwks_url)
            jwks = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise _Refused(401, "invalid_client", f"cannot fetch the tool's JWKS: {exc}") from exc
        if answer.status_code != 200 or not isinstance(jwks, dict):
            raise _Refused(401, "invalid_client", f"the tool's JWKS answered {answer.status_code}")
        with self._lock:
            self._tool_jwks = jwks
        return jwks

    async def _verify_tool_jwt(
        self,
        token: str,
        *,
        audience: str | list[str],
        subject: str | None,
        required: list[str],
        error: str,
    ) -> dict[str, Any]:
        """A tool-signed JWT's claims: RS256 only, kid from the tool's JWKS, iss == client_id,
        ``required`` claims present, exp/iat/aud checked by PyJWT; else _Refused."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _Refused(401, error, f"not a JWT: {exc}") from exc
        if header.get("alg") != "RS256":
            raise _Refused(401, error, f"alg must be RS256, not {header.get('alg')!r}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _Refused(401, error, "the JWT header has no kid")
        key = await self._tool_key(kid)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=audience,
                issuer=self.client_id,
                subject=subject,
                options={"require": required},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.PyJWTError as exc:
            raise _Refused(401, error, f"JWT refused: {exc}") from exc

    # /token --------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        record: dict[str, Any] = {
            "form": {k: v for k, v in form.items() if k != "client_assertion"},
            "scopes": form.get("scope", "").split(),
            "header": None,
            "claims": None,  # verified only when "error" is None
            "error": None,
        }
        assertion = form.get("client_assertion", "")
        try:
            record["header"] = jwt.get_unverified_header(assertion)
            record["claims"] = unverified_claims(assertion)
        except jwt.PyJWTError:
            pass
        try:
            body = await self._grant_token(form)
        except _Refused as refused:
            record["error"] = refused.reason
            with self._lock:
                self.token_requests.append(record)
            return JSONResponse(
                {"error": refused.error, "error_description": refused.reason},
                status_code=refused.status,
                headers={"Cache-Control": "no-store"},
            )
        with self._lock:
            self.token_requests.append(record)
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def _grant_token(self, form: Mapping[str, str]) -> dict[str, Any]:
        for name in ("grant_type", "client_assertion_type", "client_assertion", "scope"):
            if not form.get(name):
                raise _Refused(400, "invalid_request", f"{name} is missing")
        if form["grant_type"] != "client_credentials":
            raise _Refused(400, "unsupported_grant_type", "grant_type must be client_credentials")
        if form["client_assertion_type"] != CLIENT_ASSERTION_TYPE:
            raise _Refused(
                400, "invalid_request", f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}"
            )
        scopes = form["scope"].split()
        unknown = [s for s in scopes if s not in AGS_SCOPES]
        if unknown:
            raise _Refused(400, "invalid_scope", f"scopes not offered: {unknown}")
        if self._tool is None:
            raise _Refused(401, "invalid_client", "no tool is registered")
        claims = await self._verify_tool_jwt(
            form["client_assertion"],
            audience=[self.token_url, self.issuer],
            subject=self.client_id,
            required=["iss", "sub", "aud", "exp", "iat", "jti"],
            error="invalid_client",
        )
        with self._lock:
            if claims["jti"] in self._assertion_jtis:
                raise _Refused(401, "invalid_client", "jti was used before (a replayed assertion)")
            self._assertion_jtis.add(claims["jti"])
        key = self._keys[-1]
        try:
            # The package mints the token (it checks the grant and signature once more).
            granted = self._config(key).get_access_token(dict(form))
        except (MissingRequiredClaim, UnsupportedGrantType, LtiException, jwt.PyJWTError) as exc:
            raise _Refused(401, "invalid_client", f"refused by lti1p3platform: {exc!r}") from exc
        token = str(granted["access_token"])
        with self._lock:
            self._access_tokens[token] = _AccessToken(
                frozenset(scopes), time.time() + ACCESS_TOKEN_SECONDS, key.kid
            )
        return {
            "access_token": token,
            "token_type": "Bearer",  # the package says "bearer"; RFC 6750 names it "Bearer"
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": " ".join(scopes),
        }

    # AGS -----------------------------------------------------------------------------------

    def _authorize(self, request: Request, any_of: Sequence[str]) -> _AccessToken:
        """The bearer token's grant if it is ours, unexpired and has one of ``any_of``."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _Refused(401, "invalid_token", "a Bearer access token is required")
        with self._lock:
            issued = self._access_tokens.get(token)
        if issued is None:
            raise _Refused(401, "invalid_token", "unknown access token")
        if issued.expires_at <= time.time():
            raise _Refused(401, "invalid_token", "the access token has expired")
        key = next(k for k in self._keys if k.kid == issued.kid)
        try:
            jwt.decode(token, key.public_pem, algorithms=["RS256"])
        except jwt.PyJWTError as exc:  # defence in depth: the dict lookup already matched
            raise _Refused(401, "invalid_token", f"access token refused: {exc}") from exc
        if not issued.scopes.intersection(any_of):
            raise _Refused(403, "insufficient_scope", f"the token needs one of {list(any_of)}")
        return issued

    async def _ags_call(
        self,
        request: Request,
        any_of: Sequence[str],
        call: Callable[[Any, str | None], Any],
        *,
        validate: Callable[[Any], str | None] | None = None,
    ) -> Response:
        """Authorize, parse and validate the body, then run one package AGS handler."""
        try:
            issued = self._authorize(request, any_of)
        except _Refused as refused:
            return JSONResponse(
                {"error": refused.error, "error_description": refused.reason},
                status_code=refused.status,
                headers={"WWW-Authenticate": f'Bearer error="{refused.error}"'},
            )
        body: Any = None
        if request.method in {"POST", "PUT"}:
            if "json" not in request.headers.get("content-type", ""):
                return JSONResponse({"error": "the body must be JSON"}, status_code=415)
            try:
                body = json.loads(await request.body())
            except ValueError:
                return JSONResponse({"error": "the body is not valid JSON"}, status_code=400)
            reason = validate(body) if validate else None
            if reason:
                return JSONResponse({"error": "invalid_request", "detail": reason}, 400)
        context_id = request.path_params["context_id"]
        item = request.path_params.get("item")
        item_id = f"{self.lineitems_url(context_id)}/{item}" if item else None
        service = _GradesService(
            self,
            _package_request(
                method=request.method,
                headers=request.headers,
                query=dict(request.query_params),
                body=body,
                path=request.url.path,
            ),
            self._config(next(k for k in self._keys if k.kid == issued.kid)),
            context_id,
            item_id,
        )
        try:
            answer = _package_response(call(service, item_id))
        except (LtiException, jwt.PyJWTError) as exc:
            return JSONResponse({"error": "invalid_token", "detail": str(exc)}, status_code=401)
        if answer.status_code == 409:
            return JSONResponse(
                {"error": "oldtimestamp", "detail": "older than the last score for this user"},
                status_code=409,
            )
        return answer

    async def _lineitems(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._ags_call(
                request,
                [SCOPE_LINEITEM],
                lambda service, _: service.handle_create_lineitem(),
                validate=_check_lineitem,
            )
        return await self._ags_call(
            request,
            [SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY],
            lambda service, _: service.handle_get_lineitems(),
        )

    async def _lineitem(self, request: Request) -> Response:
        if request.method == "PUT":
            return await self._ags_call(
                request,
                [SCOPE_LINEITEM],
                lambda service, item_id: service.handle_update_lineitem(item_id),
                validate=_check_lineitem,
            )
        if request.method == "DELETE":
            return await self._ags_call(
                request,
                [SCOPE_LINEITEM],
                lambda service, item_id: service.handle_delete_lineitem(item_id),
            )
        return await self._ags_call(
            request,
            [SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY],
            lambda service, item_id: service.handle_get_lineitem(item_id),
        )

    async def _scores(self, request: Request) -> Response:
        return await self._ags_call(
            request,
            [SCOPE_SCORE],
            lambda service, item_id: service.handle_update_score(item_id),
            validate=lambda body: _check_score(body, self._users),
        )

    async def _results(self, request: Request) -> Response:
        return await self._ags_call(
            request,
            [SCOPE_RESULT_READONLY],
            lambda service, item_id: service.handle_get_results(item_id),
        )

    # /deep_link_return ---------------------------------------------------------------------

    async def _deep_link_return(self, request: Request) -> Response:
        form = await request.form()
        token = form.get("JWT")
        if not isinstance(token, str) or not token:
            return PlainTextResponse("the JWT form field is missing", status_code=400)
        try:
            claims = await self._check_deep_link_response(token)
        except _Refused as refused:
            return PlainTextResponse(refused.reason, status_code=400)
        return HTMLResponse(
            '<!doctype html><html lang="en"><head><title>Content added</title></head>'
            f"<body><h1>Content added</h1><p>{len(claims.get(CLAIM_DL_CONTENT_ITEMS, []))} "
            "item(s) received.</p></body></html>"
        )

    async def _check_deep_link_response(self, token: str) -> dict[str, Any]:
        claims = await self._verify_tool_jwt(
            token,
            audience=self.issuer,
            subject=None,
            required=["iss", "aud", "exp", "iat", "nonce"],
            error="invalid_request",
        )
        expected = {
            CLAIM_MESSAGE_TYPE: MESSAGE_DEEP_LINKING_RESPONSE,
            CLAIM_VERSION: "1.3.0",
            CLAIM_DEPLOYMENT_ID: self.deployment_id,
        }
        for name, value in expected.items():
            if claims.get(name) != value:
                raise _Refused(400, "invalid_request", f"{name} must be {value!r}")
        items = claims.get(CLAIM_DL_CONTENT_ITEMS, [])
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and isinstance(i.get("type"), str) for i in items
        ):
            raise _Refused(400, "invalid_request", "content_items must be objects with a type")
        if len(items) > 1:
            raise _Refused(400, "invalid_request", "accept_multiple is false: one item at most")
        try:
            # The package's check of the content item types (against ltiResourceLink).
            self._config().validate_deeplinking_resp({"JWT": token})
        except (LtiDeepLinkingResponseException, LtiException, jwt.PyJWTError, KeyError) as exc:
            raise _Refused(400, "invalid_request", f"refused by lti1p3platform: {exc}") from exc
        with self._lock:
            pending = self._deep_link_requests.get(str(claims.get(CLAIM_DL_DATA)))
            if pending is None:
                raise _Refused(400, "invalid_request", "data is not echoed from a request")
            if claims["nonce"] in self._deep_link_nonces:
                raise _Refused(400, "invalid_request", "nonce was used before")
            self._deep_link_nonces.add(claims["nonce"])
            del self._deep_link_requests[str(claims[CLAIM_DL_DATA])]
        for content in items:
            self._create_resource_link(pending.context_id, content)
        with self._lock:
            self.deep_link_responses.append(claims)
        return claims

    def _create_resource_link(self, context_id: str, content: Mapping[str, Any]) -> None:
        """auto_create: the platform places the link (and its line item, if one was asked
        for), as an LMS does when the teacher comes back from the tool."""
        link_id = f"dl-link-{len(self.resource_links) + 1}"
        lineitem_id = None
        wanted = content.get("lineItem")
        if isinstance(wanted, dict):
            body = {
                "label": wanted.get("label") or content.get("title") or link_id,
                **{k: v for k, v in wanted.items() if k != "label"},
                "resourceLinkId": link_id,
            }
            reason = _check_lineitem(body)
            if reason:
                raise _Refused(400, "invalid_request", f"lineItem: {reason}")
            lineitem_id = str(self._store_lineitem(context_id, body)["id"])
        with self._lock:
            self.resource_links[link_id] = {
                "context_id": context_id,
                "content_item": dict(content),
                "lineitem_id": lineitem_id,
            }

    # Dynamic Registration ------------------------------------------------------------------

    def new_registration_token(self) -> str:
        """A one-time registration token, as the platform hands one to a tool."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._registration_tokens.add(token)
        return token

    def start_dynamic_registration(
        self, browser: httpx.Client, tool_initiation_url: str
    ) -> httpx.Response:
        """Open the tool's registration initiation URL as the admin's browser does."""
        url = _with_query(
            tool_initiation_url,
            [
                ("openid_configuration", self.openid_configuration_url),
                ("registration_token", self.new_registration_token()),
            ],
        )
        with _cross_site(browser):
            return browser.get(url, follow_redirects=False)

    def openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.auth_login_url,
            "token_endpoint": self.token_url,
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": self.jwks_url,
            "registration_endpoint": self.registration_url,
            "scopes_supported": ["openid", *AGS_SCOPES],
            "response_types_supported": ["id_token"],
            "response_modes_supported": ["form_post"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["iss", "aud", "sub", "name", "email"],
            PLATFORM_CONFIGURATION: {
                "product_family_code": PRODUCT_FAMILY_CODE,
                "version": "1.0",
                "messages_supported": [
                    {"type": MESSAGE_RESOURCE_LINK},
                    {"type": MESSAGE_DEEP_LINKING, "placements": ["ContentArea"]},
                ],
                "variables": ["Context.id", "ResourceLink.id", "User.id", "Person.name.full"],
            },
        }

    async def _openid_configuration(self, request: Request) -> Response:
        return JSONResponse(self.openid_configuration())

    async def _register(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            known = scheme.lower() == "bearer" and token in self._registration_tokens
        if not known:
            return JSONResponse(
                {
                    "error": "invalid_token",
                    "error_description": "a valid registration token is needed",
                },
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        try:
            tool, granted = _check_registration(body)
        except _Refused as refused:
            return JSONResponse(
                {"error": refused.error, "error_description": refused.reason},
                status_code=refused.status,
            )
        with self._lock:
            if token not in self._registration_tokens:  # raced by a second use
                return JSONResponse({"error": "invalid_token"}, status_code=401)
            self._registration_tokens.discard(token)
            self.registrations.append(body)
        self._set_tool(tool)
        answer = {
            **body,
            "client_id": self.client_id,
            "scope": " ".join(granted),
            TOOL_CONFIGURATION: {**body[TOOL_CONFIGURATION], "deployment_id": self.deployment_id},
        }
        return JSONResponse(answer)


def _check_registration(body: object) -> tuple[ToolRegistration, list[str]]:
    """The tool's registration request (LTI Dynamic Registration 1.0, section 3.5) as a
    ToolRegistration and the scopes granted; RFC 7591 errors otherwise."""

    def refuse(reason: str, error: str = "invalid_client_metadata") -> _Refused:
        return _Refused(400, error, reason)

    if not isinstance(body, dict):
        raise refuse("the registration must be a JSON object")
    if body.get("application_type") != "web":
        raise refuse("application_type must be 'web'")
    if body.get("response_types") != ["id_token"]:
        raise refuse("response_types must be ['id_token']")
    grants = body.get("grant_types")
    if not isinstance(grants, list) or not {"implicit", "client_credentials"} <= set(grants):
        raise refuse("grant_types must include 'implicit' and 'client_credentials'")
    if body.get("token_endpoint_auth_method") != "private_key_jwt":
        raise refuse("token_endpoint_auth_method must be 'private_key_jwt'")
    for name in ("initiate_login_uri", "jwks_uri"):
        if not _is_absolute_http_url(body.get(name)):
            raise refuse(f"{name} must be an absolute http(s) URL")
    redirects = body.get("redirect_uris")
    if (
        not isinstance(redirects, list)
        or not redirects
        or not all(map(_is_absolute_http_url, redirects))
    ):
        raise refuse("redirect_uris must be a non-empty list of URLs", "invalid_redirect_uri")
    scope = body.get("scope", "")
    if not isinstance(scope, str):
        raise refuse("scope must be a space-separated string")
    config = body.get(TOOL_CONFIGURATION)
    if not isinstance(config, dict):
        raise refuse(f"{TOOL_CONFIGURATION} is missing")
    domain = config.get("domain")
    if not isinstance(domain, str) or not domain:
        raise refuse("the tool configuration's domain is missing")
    if not _is_absolute_http_url(config.get("target_link_uri")):
        raise refuse("the tool configuration's target_link_uri must be a URL")
    messages = config.get("messages", [])
    supported = {MESSAGE_RESOURCE_LINK, MESSAGE_DEEP_LINKING}
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and m.get("type") in supported for m in messages
    ):
        raise refuse(f"messages must be objects whose type is one of {sorted(supported)}")
    domains = {domain, *config.get("secondary_domains", [])}
    urls = [body["initiate_login_uri"], body["jwks_uri"], config["target_link_uri"], *redirects]
    for url in urls:
        parts = urlsplit(url)
        if parts.netloc not in domains and parts.hostname not in domains:
            raise refuse(f"{url} is outside the tool's domain {domain!r}")
    deep_link = next((m for m in messages if m["type"] == MESSAGE_DEEP_LINKING), None)
    deep_link_url = None
    if deep_link is not None:
        deep_link_url = str(deep_link.get("target_link_uri") or config["target_link_uri"])
        if not _is_absolute_http_url(deep_link_url):
            raise refuse("the deep-linking message's target_link_uri must be a URL")
    tool = ToolRegistration(
        login_url=body["initiate_login_uri"],
        redirect_uris=tuple(redirects),
        target_link_uri=config["target_link_uri"],
        jwks_url=body["jwks_uri"],
        deep_link_url=deep_link_url,
    )
    # Like real platforms, grant what it offers and leave out the rest (e.g. NRPS).
    return tool, [s for s in scope.split() if s in AGS_SCOPES]
