"""Assignment and Grade Services 2.0: a learner's score to the LMS gradebook.

``score_for`` builds the Score (pure); ``post_score`` sends one with an access token got by
the client-credentials grant with a signed JWT assertion (RFC 7523), cached until shortly
before it expires. The outbox (service/domain/callbacks) decides when: a row is written in
the transaction that changed the score and delivered with retries.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from service.domain.callbacks.destinations import DestinationPolicy
from service.domain.callbacks.transport import Response, SendFailed, send
from service.integrations.lti import claims, tokens

log = logging.getLogger(__name__)

MAX_TOKEN_RESPONSE_BYTES = 64 * 1024
# A cached token is not used in its last minute (clocks differ, the request takes time).
TOKEN_MARGIN_SECONDS = 60.0
MAX_COMMENT_CHARS = 1000


def scores_url(lineitem_url: str) -> str:
    """The line item's ``/scores`` endpoint: the path gets ``/scores``, the query stays (AGS
    2.0 section 3.4: line item URLs may carry a query)."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


@dataclass(frozen=True)
class Attempt:
    """One submission as the gradebook sees it."""

    created_at: datetime
    status: str
    points: float | None
    max_points: float | None
    needs_review: bool
    comment: str | None


class Scored(Protocol):
    """What choosing the attempt that counts reads: a stored submission, or an ``Attempt``."""

    @property
    def created_at(self) -> datetime: ...

    @property
    def points(self) -> float | None: ...


AttemptT = TypeVar("AttemptT", bound=Scored)


def counting(attempts: Sequence[AttemptT], policy: str) -> AttemptT | None:
    """The attempt that counts: the newest ("last"), or the best scored ("highest"; the
    newest of equals, and the newest if none is scored yet)."""
    if not attempts:
        return None
    newest = max(attempts, key=lambda a: a.created_at)
    if policy != "highest":
        return newest
    scored = [(a.points, a.created_at, a) for a in attempts if a.points is not None]
    if not scored:
        return newest
    return max(scored, key=lambda item: (item[0], item[1]))[2]


def score_for(attempt: Attempt, *, user_id: str, max_points: float, at: datetime) -> dict[str, Any]:
    """The Score JSON (AGS 2.0 section 3.4.2). A score needing review goes as
    ``PendingManual`` with the machine's points, so the LMS shows "needs grading"; one not
    scored yet as ``Pending`` with no points."""
    score: dict[str, Any] = {
        "userId": user_id,
        "activityProgress": "Submitted",
        "timestamp": at.isoformat(timespec="microseconds"),
    }
    if attempt.status == "scored" and attempt.points is not None:
        score["scoreGiven"] = round(float(attempt.points), 4)
        score["scoreMaximum"] = float(attempt.max_points or max_points)
        score["gradingProgress"] = "PendingManual" if attempt.needs_review else "FullyGraded"
    else:
        score["gradingProgress"] = "Pending"
    if attempt.comment:
        score["comment"] = attempt.comment[:MAX_COMMENT_CHARS]
    return score


# ------------------------------------------------------------------ sending a score


@dataclass(frozen=True)
class Platform:
    """What posting a score needs of the platform, read when the row is claimed."""

    id: str
    client_id: str
    token_url: str


class AgsFailed(Exception):
    def __init__(self, reason: str, status_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


class TokenCache:
    """Access tokens by (platform, scopes), each until just before it expires. In-process:
    a token is valid from any replica, so two replicas each holding one is only an extra
    token request, never a disagreement."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> str | None:
        with self._lock:
            entry = self._tokens.get(key)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def put(self, key: tuple[str, str], token: str, lifetime: float) -> None:
        expires = time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN_SECONDS)
        with self._lock:
            self._tokens[key] = (token, expires)

    def drop(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._tokens.pop(key, None)


TOKENS = TokenCache()


def _token(
    platform: Platform,
    scopes: Sequence[str],
    *,
    key: tokens.SigningKey,
    destinations: DestinationPolicy,
    make_client: Callable[[], httpx.Client],
    cache: TokenCache,
) -> str:
    scope = " ".join(sorted(scopes))
    cached = cache.get((platform.id, scope))
    if cached:
        return cached
    form = urlencode(
        {
            "grant_type": "client_credentials",
            "client_assertion_type": claims.CLIENT_ASSERTION_TYPE,
            "client_assertion": tokens.client_assertion(
                client_id=platform.client_id, token_url=platform.token_url, key=key
            ),
            "scope": scope,
        }
    ).encode()
    try:
        response = send(
            "POST",
            platform.token_url,
            destinations=destinations,
            make_client=make_client,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            content=form,
            max_body_bytes=MAX_TOKEN_RESPONSE_BYTES,
        )
    except SendFailed as exc:
        raise AgsFailed(exc.reason) from None
    if response.status_code != 200:
        log.warning("platform %s refused a token (%d)", platform.id, response.status_code)
        raise AgsFailed("token_refused", response.status_code)
    try:
        data = json.loads(response.body)
        access_token = str(data["access_token"])
        lifetime = float(data.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError):
        raise AgsFailed("token_unreadable", response.status_code) from None
    cache.put((platform.id, scope), access_token, lifetime)
    return access_token


def post_score(
    platform: Platform,
    *,
    url: str,
    body: bytes,
    key: tokens.SigningKey,
    destinations: DestinationPolicy,
    make_client: Callable[[], httpx.Client],
    cache: TokenCache = TOKENS,
) -> Response:
    """POST one Score; a 401 drops the cached token (it was revoked early) so the retry
    asks for a new one."""
    access_token = _token(
        platform,
        [claims.SCOPE_SCORE],
        key=key,
        destinations=destinations,
        make_client=make_client,
        cache=cache,
    )
    try:
        response = send(
            "POST",
            url,
            destinations=destinations,
            make_client=make_client,
            headers={
                "Content-Type": claims.SCORE_MEDIA_TYPE,
                "Authorization": f"Bearer {access_token}",
            },
            content=body,
        )
    except SendFailed as exc:
        raise AgsFailed(exc.reason) from None
    if response.status_code == 401:
        cache.drop((platform.id, claims.SCOPE_SCORE))
    return response
