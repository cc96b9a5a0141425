"""Signed callbacks to integrations: an outbox written with the change, delivered later.

``enqueue`` runs inside the transaction that scores, rescores or overrides a submission,
so an event exists exactly when its change was committed. ``deliver_due`` is called by the
worker: it claims due rows, POSTs them without holding a transaction open, and records the
attempt, retrying with exponential backoff until ``max_attempts``.

Every attempt checks its destination again (``destinations``) and connects to an address
that check returned; the delivery log keeps only a coarse outcome, never error text or
addresses, because the integration reads it and must not learn about our network from it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.orm import Session, sessionmaker

from service.db.base import utcnow
from service.db.models import ApiKey, CallbackDelivery, LtiPlatform, LtiResourceLink, Submission
from service.db.session import session_scope
from service.domain.callbacks import signing, transport
from service.domain.callbacks.destinations import DestinationPolicy, DestinationRefused
from service.domain.callbacks.repository import CANCELLED, CallbackRepository
from service.domain.submissions import release
from service.errors import UnprocessableRequest
from service.integrations.lti import ags
from service.integrations.lti import claims as lti_claims
from service.integrations.lti.repository import LaunchRepository
from service.integrations.lti.tokens import SigningKey

log = logging.getLogger(__name__)

EVENTS = ("submission.scored", "submission.rescored", "submission.overridden")
EVENT_HEADER = "X-Grader-Event"


class Channel(StrEnum):
    """Where an outbox row goes."""

    WEBHOOK = "webhook"  # an integration's callback URL, signed (Standard Webhooks)
    LTI_SCORE = "lti_score"  # an LMS line item's scores endpoint (AGS), with an access token


class CallbackRefused(UnprocessableRequest):
    code = "callback_refused"
    title = "Callback destination refused"


class Outcome(StrEnum):
    """What an attempt came to, in the words the integration sees."""

    DELIVERED = "delivered"
    HTTP_STATUS = "http_status"
    REFUSED = "refused"
    TIMED_OUT = "timed_out"
    CONNECTION_FAILED = "connection_failed"


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    status_code: int | None = None


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 8
    base_delay_seconds: float = 2.0
    max_delay_seconds: float = 3600.0
    # Read timeout; connecting has its own, shorter one.
    timeout_seconds: float = 5.0
    connect_timeout_seconds: float = 3.0
    # While a worker is POSTing, the row is hidden from other workers for this long.
    claim_seconds: float = 60.0
    batch_size: int = 50
    # Attempts running at once in one worker, and at most this many to one host.
    concurrency: int = 8
    per_destination: int = 2
    destinations: DestinationPolicy = field(default_factory=DestinationPolicy)
    # The tool's LTI signing key (for the AGS token request), read in the claiming session.
    signing_key: Callable[[Session], SigningKey] | None = None

    def delay_after(self, attempts: int) -> float:
        return float(min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (attempts - 1)))


def check_destination(url: str, destinations: DestinationPolicy) -> None:
    """Refuse (422) a callback URL that may not receive callbacks; resolves, never connects."""
    try:
        destinations.check(url)
    except DestinationRefused as exc:
        raise CallbackRefused(f"The callback URL is refused: {exc.reason}.") from None


def cancel_pending(session: Session, owner: ApiKey) -> int:
    """Cancel ``owner``'s queued deliveries: their URL or secret is no longer the one to use."""
    cancelled = CallbackRepository(session).cancel_pending(owner.id)
    if cancelled:
        log.info("cancelled %d queued callbacks of api key %s", cancelled, owner.id)
    return cancelled


def enqueue(
    session: Session, submission: Submission, *, event: str, payload: dict[str, Any]
) -> CallbackDelivery | None:
    """Queue ``event`` for the integration that posted ``submission``, if it has a callback."""
    if submission.api_key_id is None:
        return None
    owner = session.get(ApiKey, submission.api_key_id)
    if owner is None or not owner.is_active or not owner.callback_url:
        return None
    if not owner.callback_secret:
        return None
    delivery = CallbackDelivery(
        organization_id=submission.organization_id,
        channel=Channel.WEBHOOK.value,
        api_key_id=owner.id,
        submission_id=submission.id,
        event=event,
        url=owner.callback_url,
        payload={"event": event, "submission": payload},
        attempt_log=[],
        next_attempt_at=utcnow(),
    )
    CallbackRepository(session).add(delivery)
    return delivery


def enqueue_lti_score(session: Session, submission: Submission) -> CallbackDelivery | None:
    """Queue the learner's gradebook score for the LMS placement ``submission`` was answered
    in (the ``lti_score`` channel), if it has a line item we may post scores to.

    The Score is of the attempt that counts (the question's ``attempt_policy``), computed now,
    in the transaction that changed a score, and timestamped now: the platform keeps the
    newest timestamp, so a late retry of an older score never overwrites a newer one.
    """
    if submission.lti_resource_link_id is None:
        return None
    link = session.get(LtiResourceLink, submission.lti_resource_link_id)
    if link is None or not link.lineitem_url:
        return None
    if lti_claims.SCOPE_SCORE not in (link.ags_scopes or []):
        log.info("LTI link %s: the platform did not grant the score scope", link.id)
        return None
    session.flush()
    question = submission.question
    now = utcnow()
    shown = release.shows_results(question, principal=None, now=now)
    rows = LaunchRepository(session).attempts(link.id, submission.learner_id)
    chosen = ags.counting(rows, question.attempt_policy)
    if chosen is None:
        return None
    score = ags.score_for(
        _gradebook_attempt(chosen, shown=shown),
        user_id=submission.learner_id,
        max_points=question.max_points,
        at=now,
    )
    url = ags.scores_url(link.lineitem_url)
    superseded = CallbackRepository(session).supersede_scores(
        url, submission.learner_id, submission.organization_id
    )
    if superseded:
        log.info("LTI link %s: a newer score replaces %d queued one(s)", link.id, superseded)
    delivery = CallbackDelivery(
        organization_id=submission.organization_id,
        channel=Channel.LTI_SCORE.value,
        lti_platform_id=link.platform_id,
        submission_id=submission.id,
        event="lti.score",
        url=url,
        payload=score,
        attempt_log=[],
        next_attempt_at=now,
    )
    CallbackRepository(session).add(delivery)
    return delivery


def repost_question_scores(session: Session, question_id: str) -> int:
    """Post every LMS gradebook score of a question again (its feedback was released or
    hidden: what the gradebook may show changed although no score did)."""
    posted = 0
    for submission in LaunchRepository(session).latest_per_learner(question_id):
        if enqueue_lti_score(session, submission) is not None:
            posted += 1
    return posted


def _gradebook_attempt(row: Submission, *, shown: bool) -> ags.Attempt:
    """A submission as the gradebook may see it: held-back feedback goes as not scored."""
    latest = row.latest_result
    if not shown:
        return ags.Attempt(row.created_at, "pending", None, None, False, None)
    comment = latest.details.get("summary") if latest is not None else None
    if row.is_overridden and row.points is not None:
        # The machine's summary names the machine's points; the teacher's score replaced them.
        comment = (
            f"Your teacher reviewed this answer and set the score to {row.points:g} out of "
            f"{row.max_points or row.question.max_points:g}."
        )
    return ags.Attempt(
        created_at=row.created_at,
        status=row.status,
        points=row.points,
        max_points=row.max_points,
        needs_review=row.needs_review,
        comment=comment if isinstance(comment, str) else None,
    )


def enqueue_all(
    session: Session, submission: Submission, *, event: str, payload: dict[str, Any] | None
) -> None:
    """Everything a change of ``submission``'s score sends: the integration's webhook (when
    it has one; ``payload`` None skips it) and the LMS gradebook score."""
    if payload is not None:
        enqueue(session, submission, event=event, payload=payload)
    enqueue_lti_score(session, submission)


def list_deliveries(session: Session, owner: ApiKey, *, limit: int) -> Sequence[CallbackDelivery]:
    return CallbackRepository(session).list_for_owner(owner.id, limit=limit)


@dataclass(frozen=True)
class _Claimed:
    id: uuid.UUID
    url: str
    body: bytes
    secret: str
    event: str
    channel: Channel = Channel.WEBHOOK
    platform: ags.Platform | None = None
    key: SigningKey | None = None


def _destination_key(url: str) -> str:
    """Deliveries are bounded per host and port: what one receiver can be slow at."""
    try:
        parts = urlsplit(url)
        return f"{(parts.hostname or '').lower()}:{parts.port}"
    except ValueError:
        return url


def _lease(
    session: Session, delivery: CallbackDelivery, now: datetime, policy: DeliveryPolicy
) -> _Claimed | None:
    """Lease ``delivery`` for one attempt, or cancel it if its receiver no longer wants it.

    A webhook's secret and URL are read from its key now: a delivery is only ever signed
    with its own key's current secret, and only sent to the URL that key has now. A score
    is signed for with the tool's current key, for the platform as registered now.
    """
    if delivery.channel == Channel.LTI_SCORE:
        return _lease_score(session, delivery, now, policy)
    owner = session.get(ApiKey, delivery.api_key_id) if delivery.api_key_id else None
    if (
        owner is None
        or not owner.is_active
        or not owner.callback_secret
        or owner.callback_url != delivery.url
    ):
        delivery.status = CANCELLED
        log.info("callback %s cancelled: its key's callback changed or was revoked", delivery.id)
        return None
    delivery.next_attempt_at = now + timedelta(seconds=policy.claim_seconds)
    body = json.dumps({"id": str(delivery.id), **delivery.payload}, separators=(",", ":"))
    return _Claimed(delivery.id, delivery.url, body.encode(), owner.callback_secret, delivery.event)


def _lease_score(
    session: Session, delivery: CallbackDelivery, now: datetime, policy: DeliveryPolicy
) -> _Claimed | None:
    platform = session.get(LtiPlatform, delivery.lti_platform_id)
    if platform is None or policy.signing_key is None:
        delivery.status = CANCELLED
        return None
    delivery.next_attempt_at = now + timedelta(seconds=policy.claim_seconds)
    return _Claimed(
        delivery.id,
        delivery.url,
        json.dumps(delivery.payload, separators=(",", ":")).encode(),
        secret="",
        event=delivery.event,
        channel=Channel.LTI_SCORE,
        platform=ags.Platform(str(platform.id), platform.client_id, platform.token_url),
        key=policy.signing_key(session),
    )


def _claim(factory: sessionmaker[Session], policy: DeliveryPolicy) -> list[_Claimed]:
    now = utcnow()
    claimed: list[_Claimed] = []
    per_host: Counter[str] = Counter()
    with session_scope(factory) as session:
        repo = CallbackRepository(session)
        for url in repo.due_urls(now, limit=policy.batch_size):
            host = _destination_key(url)
            room = min(policy.per_destination - per_host[host], policy.batch_size - len(claimed))
            if room <= 0:
                continue
            for delivery in repo.claim_due(url, now, limit=room):
                item = _lease(session, delivery, now, policy)
                if item is not None:
                    claimed.append(item)
                    per_host[host] += 1
    return claimed


def _default_client(policy: DeliveryPolicy) -> httpx.Client:
    return transport.default_client(policy.timeout_seconds, policy.connect_timeout_seconds)


_OUTCOMES = {
    "refused": Outcome.REFUSED,
    "timed_out": Outcome.TIMED_OUT,
    "connection_failed": Outcome.CONNECTION_FAILED,
}


def _attempt(
    item: _Claimed, policy: DeliveryPolicy, make_client: Callable[[], httpx.Client]
) -> Attempt:
    """Check the destination again and POST to the checked address (``transport.send``)."""
    if item.channel is Channel.LTI_SCORE:
        return _attempt_score(item, policy, make_client)
    timestamp = datetime.fromtimestamp(int(time.time()), tz=UTC)
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: item.event,
        **signing.signed_headers(
            item.secret, message_id=str(item.id), body=item.body, timestamp=timestamp
        ),
    }
    try:
        # The body is never read: a receiver has nothing to tell us.
        response = transport.send(
            "POST",
            item.url,
            destinations=policy.destinations,
            make_client=make_client,
            headers=headers,
            content=item.body,
        )
    except transport.SendFailed as exc:
        if exc.reason == "refused":
            log.warning("callback %s refused at delivery: %s", item.id, exc.detail)
        return Attempt(_OUTCOMES.get(exc.reason, Outcome.CONNECTION_FAILED))
    status = response.status_code
    outcome = Outcome.DELIVERED if 200 <= status < 300 else Outcome.HTTP_STATUS
    return Attempt(outcome, status)


def _attempt_score(
    item: _Claimed, policy: DeliveryPolicy, make_client: Callable[[], httpx.Client]
) -> Attempt:
    assert item.platform is not None
    assert item.key is not None
    try:
        response = ags.post_score(
            item.platform,
            url=item.url,
            body=item.body,
            key=item.key,
            destinations=policy.destinations,
            make_client=make_client,
        )
    except ags.AgsFailed as exc:
        if exc.reason in _OUTCOMES:
            return Attempt(_OUTCOMES[exc.reason])
        # The token endpoint refused or answered nonsense: recorded as its HTTP status.
        return Attempt(Outcome.HTTP_STATUS, exc.status_code)
    status = response.status_code
    return Attempt(Outcome.DELIVERED if 200 <= status < 300 else Outcome.HTTP_STATUS, status)


def _record(
    factory: sessionmaker[Session], item: _Claimed, attempt: Attempt, policy: DeliveryPolicy
) -> None:
    with session_scope(factory) as session:
        delivery = CallbackRepository(session).get_for_update(item.id)
        if delivery is None:
            return
        now = utcnow()
        delivery.attempts += 1
        entry = {
            "at": now.isoformat(),
            "outcome": attempt.outcome.value,
            "status_code": attempt.status_code,
        }
        delivery.attempt_log = [*delivery.attempt_log, entry]
        if delivery.status != "pending":
            return  # cancelled while this attempt was under way: it stays cancelled
        if _superseded(item, attempt) and CallbackRepository(session).has_newer_score(delivery):
            # Two scores queued at once and the newer one landed first: the platform keeps
            # the newest (AGS), so this one is done, not failed.
            delivery.status = CANCELLED
            log.info("callback %s cancelled: the platform has a newer score", delivery.id)
        elif attempt.outcome is Outcome.DELIVERED:
            delivery.status = "delivered"
            delivery.delivered_at = now
        elif delivery.attempts >= policy.max_attempts:
            delivery.status = "failed"
            log.warning("callback %s failed after %d attempts", delivery.id, delivery.attempts)
        else:
            delay = policy.delay_after(delivery.attempts)
            delivery.next_attempt_at = now + timedelta(seconds=delay)


def _superseded(item: _Claimed, attempt: Attempt) -> bool:
    """A gradebook score the platform refused as older than the one it has (409)."""
    return (
        item.channel is Channel.LTI_SCORE
        and attempt.outcome is Outcome.HTTP_STATUS
        and attempt.status_code == 409
    )


def _result(future: Future[Attempt], item: _Claimed) -> Attempt:
    try:
        return future.result()
    except Exception:
        # A bug in one attempt must not lose the others' results; it is logged in full here
        # and shown to the integration as a failed connection.
        log.exception("callback %s: attempt failed unexpectedly", item.id)
        return Attempt(Outcome.CONNECTION_FAILED)


def deliver_due(
    factory: sessionmaker[Session],
    *,
    policy: DeliveryPolicy,
    client_factory: Callable[[], httpx.Client] | None = None,
) -> int:
    """Deliver what is due now, concurrently; returns how many were attempted.

    Each result is recorded as soon as its attempt ends (on this thread, so database
    writes stay serial), so a fast receiver's delivery is stored while a slow one is still
    waiting for its timeout.
    """
    claimed = _claim(factory, policy)
    if not claimed:
        return 0

    def make_client() -> httpx.Client:
        return client_factory() if client_factory else _default_client(policy)

    workers = min(policy.concurrency, len(claimed))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grader-callback") as pool:
        futures = {pool.submit(_attempt, item, policy, make_client): item for item in claimed}
        for future in as_completed(futures):
            _record(factory, futures[future], _result(future, futures[future]), policy)
    return len(claimed)
