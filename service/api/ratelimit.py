"""Rate limits per API key, and per client address for failed credentials.

Built on the ``limits`` library with the sliding-window-counter strategy: smooth like a
moving window (no double burst at a window edge, as a fixed window allows) but with O(1)
storage per key (two counters), in memory or in Redis. Keys are identified by their id,
never by the secret.

Storage is ``memory://`` by default: correct for one process; with several processes
(``--workers N``, several containers) each counts on its own, so use ``redis://...`` to
share one budget. If the storage fails (Redis down), requests are let through and a
warning is logged: the limiter protects capacity, it must not take the service down.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from service import observability
from service.api.problems import problem_response
from service.config import Settings
from service.domain.access.principal import Principal, Role
from service.errors import NotFound

log = logging.getLogger(__name__)

# Redis keys start with this, so the service can share a Redis with other users.
KEY_PREFIX = "grader-ratelimit"


class RateLimitExceeded(Exception):
    def __init__(self, *, retry_after: int, detail: str, scope: str) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.detail = detail
        self.scope = scope


def parse_limits(value: str, setting: str) -> tuple[RateLimitItem, ...]:
    """``"600/minute"`` or ``"20/second;600/minute"``; empty means no limit."""
    if not value.strip():
        return ()
    try:
        return tuple(parse_many(value))
    except ValueError as exc:
        raise ValueError(f"{setting}={value!r} is not a rate limit like '600/minute'") from exc


@dataclass(frozen=True)
class RateLimitPolicy:
    default: tuple[RateLimitItem, ...]
    integration: tuple[RateLimitItem, ...]
    failed_auth: tuple[RateLimitItem, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimitPolicy:
        return cls(
            default=parse_limits(settings.rate_limit, "GRADER_RATE_LIMIT"),
            integration=parse_limits(
                settings.rate_limit_integration, "GRADER_RATE_LIMIT_INTEGRATION"
            ),
            failed_auth=parse_limits(
                settings.rate_limit_failed_auth, "GRADER_RATE_LIMIT_FAILED_AUTH"
            ),
        )


class RateLimiter:
    def __init__(self, policy: RateLimitPolicy, storage_uri: str) -> None:
        self.policy = policy
        options: dict[str, float | str | bool] = {}
        if not storage_uri.startswith("memory"):
            options["key_prefix"] = KEY_PREFIX
        self._strategy = SlidingWindowCounterRateLimiter(
            storage_from_string(storage_uri, **options)
        )

    def limits_for(self, principal: Principal) -> tuple[RateLimitItem, ...]:
        if principal.role is Role.INTEGRATION:
            return self.policy.integration
        return self.policy.default

    def hit_key(self, principal: Principal, *, cost: int = 1) -> None:
        """Count ``cost`` hits for this key; ``RateLimitExceeded`` once its budget is spent.

        All or nothing: a cost that does not fit the remaining budget of every limit is
        refused whole and consumes nothing.
        """
        identifiers = ("key", str(principal.key_id))
        items = self.limits_for(principal)
        if cost > 1:
            for item in items:
                if not self._safely(self._strategy.test, item, *identifiers, cost=cost):
                    self._refuse(item, identifiers, scope="api_key")
        self._hit(items, identifiers, scope="api_key", cost=cost)

    def check_address(self, address: str) -> None:
        """Refuse an address that has spent its failed-credential budget, before any lookup."""
        for item in self.policy.failed_auth:
            if not self._safely(self._strategy.test, item, "auth", address):
                self._refuse(item, ("auth", address), scope="failed_auth")

    def record_failure(self, address: str) -> None:
        for item in self.policy.failed_auth:
            self._safely(self._strategy.hit, item, "auth", address)

    def _hit(
        self,
        items: Sequence[RateLimitItem],
        identifiers: tuple[str, ...],
        scope: str,
        cost: int = 1,
    ) -> None:
        for item in items:
            if not self._safely(self._strategy.hit, item, *identifiers, cost=cost):
                self._refuse(item, identifiers, scope=scope)

    def _refuse(self, item: RateLimitItem, identifiers: tuple[str, ...], *, scope: str) -> None:
        try:
            reset_at = self._strategy.get_window_stats(item, *identifiers).reset_time
        except Exception:
            reset_at = time.time() + item.get_expiry()
        retry_after = max(1, math.ceil(reset_at - time.time()))
        observability.RATE_LIMITED.labels(scope).inc()
        what = "this API key" if scope == "api_key" else "failed credentials from this address"
        raise RateLimitExceeded(
            retry_after=retry_after,
            scope=scope,
            detail=f"Rate limit of {item} for {what} exceeded; retry after {retry_after} s.",
        )

    @staticmethod
    def _safely(
        call: Callable[..., bool], item: RateLimitItem, *identifiers: str, cost: int = 1
    ) -> bool:
        """Run a storage call; if the storage is unavailable, let the request through."""
        try:
            return call(item, *identifiers, cost=cost)
        except Exception as exc:  # redis errors vary by client version; any means "unknown"
            log.warning("rate limit storage unavailable (%s); not limiting", type(exc).__name__)
            return True


def build_limiter(settings: Settings) -> RateLimiter | None:
    policy = RateLimitPolicy.from_settings(settings)
    if not (policy.default or policy.integration or policy.failed_auth):
        return None
    return RateLimiter(policy, settings.rate_limit_storage)


def client_address(request: Request) -> str:
    """The address the failed-credential budget is counted for.

    The peer address, which the app's proxy-headers middleware (service/main.py) replaces
    by the X-Forwarded-For client only when the peer is one of GRADER_FORWARDED_ALLOW_IPS
    (default: nobody). Any client can write X-Forwarded-For, so trusting it from everyone
    would let each guess come from a fresh "address" with a fresh budget.
    """
    return request.client.host if request.client else "unknown"


def charge_items(request: Request, principal: Principal, items: int) -> None:
    """A request carrying ``items`` units of work (a batch) costs ``items`` hits against the
    key's limit; authenticating it already counted one. 429 if they do not all fit."""
    limiter = limiter_of(request)
    if limiter is not None and items > 1:
        limiter.hit_key(principal, cost=items - 1)


def limiter_of(request: Request) -> RateLimiter | None:
    limiter: RateLimiter | None = request.app.state.rate_limiter
    return limiter


def guard_anonymous_lookup(request: Request) -> Iterator[None]:
    """For routes whose URL is the credential (feedback links): an unknown token counts as
    a failed credential for the caller's address, like an unknown API key."""
    limiter = limiter_of(request)
    if limiter is None:
        yield
        return
    address = client_address(request)
    limiter.check_address(address)
    try:
        yield
    except NotFound:
        limiter.record_failure(address)
        raise


def install_rate_limit_handler(app: FastAPI) -> None:
    @app.exception_handler(RateLimitExceeded)
    def _too_many(request: Request, exc: RateLimitExceeded) -> JSONResponse:
        return problem_response(
            request,
            status=429,
            code="rate_limited",
            title="Too Many Requests",
            detail=exc.detail,
            headers={"Retry-After": str(exc.retry_after)},
        )
