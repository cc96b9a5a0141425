"""Background work: rescoring jobs, callback deliveries and scoring retries, claimed from
the database; retention, and periodic housekeeping (expired idempotency records).

Any number of workers (a thread in each API process, or ``python -m service worker``
processes) can run at once: jobs and deliveries are claimed with row locks
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers) and leases, so each
piece of work is done by one worker, and work whose worker died is picked up again.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.db.base import utcnow
from service.db.session import session_scope
from service.domain.callbacks import service as callback_service
from service.domain.callbacks.destinations import DestinationPolicy
from service.domain.callbacks.service import DeliveryPolicy
from service.domain.grouping import service as grouping_service
from service.domain.idempotency import service as idempotency_service
from service.domain.jobs import service as job_service
from service.domain.jobs.service import JobPolicy
from service.domain.learners import service as learner_service
from service.domain.rubrics.service import GraderCache
from service.domain.sessions import service as session_service
from service.domain.submissions import release
from service.domain.submissions import service as submission_service
from service.domain.submissions.service import ScoringPolicy
from service.integrations.lti import keys as lti_keys
from service.integrations.lti import service as lti_service

log = logging.getLogger(__name__)

# Expired rows are deleted at most this often (and in bounded batches): the sweep is a
# cheap indexed DELETE, but running it on every poll would be pointless churn.
HOUSEKEEPING_INTERVAL_SECONDS = 60.0
# During a database outage the loop retries after 1 s, doubling up to 30 s: quick to notice
# the database is back, without a connection attempt (and a log line) every poll.
OUTAGE_FIRST_DELAY_SECONDS = 1.0
OUTAGE_MAX_DELAY_SECONDS = 30.0


def is_database_unavailable(exc: BaseException) -> bool:
    """A lost or refused connection (the database is down), not a bug or a bad statement."""
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        name = type(exc.orig).__name__ if exc.orig is not None else ""
        return name in {"OperationalError", "InterfaceError"} and "locked" not in str(exc.orig)
    return False


def _reason(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def policies(settings: Settings) -> tuple[JobPolicy, DeliveryPolicy]:
    return (
        JobPolicy(batch_size=settings.job_batch_size, lease_seconds=settings.job_lease_seconds),
        DeliveryPolicy(
            max_attempts=settings.callback_max_attempts,
            base_delay_seconds=settings.callback_base_delay_seconds,
            timeout_seconds=settings.callback_timeout_seconds,
            connect_timeout_seconds=settings.callback_connect_timeout_seconds,
            concurrency=settings.callback_concurrency,
            per_destination=settings.callback_concurrency_per_destination,
            destinations=DestinationPolicy.configure(
                allow_http=settings.callback_allow_http, allowed=settings.callback_allowed_hosts
            ),
            signing_key=lambda session: lti_keys.signing_key(session, settings),
        ),
    )


def scoring_policy(settings: Settings) -> ScoringPolicy:
    return ScoringPolicy(
        max_attempts=settings.scoring_max_attempts,
        base_delay_seconds=settings.scoring_base_delay_seconds,
    )


class Housekeeping:
    """Cheap periodic chores, at most once per ``interval_seconds`` in each worker: deleting
    expired idempotency records and console sessions past their lifetime. Each worker keeps
    its own clock; several workers sweeping at once only delete the same rows once (the
    deletes are idempotent)."""

    def __init__(self, interval_seconds: float = HOUSEKEEPING_INTERVAL_SECONDS) -> None:
        self.interval_seconds = interval_seconds
        self._next_at = 0.0  # the first round sweeps

    def run_if_due(self, factory: sessionmaker[Session], settings: Settings) -> None:
        now = time.monotonic()
        if now < self._next_at:
            return
        self._next_at = now + self.interval_seconds
        idempotency_service.delete_expired(
            factory, ttl=timedelta(days=settings.idempotency_ttl_days)
        )
        session_service.delete_expired(factory)
        with session_scope(factory) as session:
            at = utcnow()
            lti_service.delete_expired(session, now=at)
            lti_keys.delete_retired(session, now=at)
            release.sync_closed_gradebooks(session, at)


# For callers of run_once without their own (Worker passes one per thread).
_default_housekeeping = Housekeeping()


def run_once(
    factory: sessionmaker[Session],
    graders: GraderCache,
    settings: Settings,
    housekeeping: Housekeeping | None = None,
) -> bool:
    """One round: deliver due callbacks, work on one job, retry the scorings that are due,
    delete one batch of expired submissions (when retention is on), and the housekeeping
    when due. True if anything was done (then the loop comes straight back)."""
    job_policy, delivery_policy = policies(settings)
    delivered = callback_service.deliver_due(factory, policy=delivery_policy)
    job = job_service.run_next_job(factory, graders, job_policy)
    retried = submission_service.retry_pending(
        factory, graders=graders, policy=scoring_policy(settings), limit=settings.job_batch_size
    )
    expired = apply_retention(factory, settings)
    # Not counted as work done: a grouping recomputed now may still be stale until its
    # answers settle, and the loop should not spin on it.
    grouping_service.recompute_stale(factory)
    (housekeeping or _default_housekeeping).run_if_due(factory, settings)
    return bool(delivered) or job is not None or retried.tried > 0 or bool(expired)


def apply_retention(factory: sessionmaker[Session], settings: Settings) -> int:
    """Delete one bounded batch of submissions older than ``retention_days`` (off if unset).

    One batch per round keeps each transaction short (no long write lock on SQLite); a busy
    round makes the loop come straight back for the next batch.
    """
    if settings.retention_days is None:
        return 0
    with session_scope(factory) as session:
        return learner_service.delete_expired(
            session, days=settings.retention_days, batch_size=settings.retention_batch_size
        )


class Worker:
    """A daemon thread running ``run_once`` until stopped; errors are logged, not fatal."""

    def __init__(
        self, factory: sessionmaker[Session], graders: GraderCache, settings: Settings
    ) -> None:
        self.factory = factory
        self.graders = graders
        self.settings = settings
        self.housekeeping = Housekeeping()
        # Set while the database is unavailable: when the outage began and the next delay.
        self._outage_since: float | None = None
        self._outage_delay = OUTAGE_FIRST_DELAY_SECONDS
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="grader-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = run_once(self.factory, self.graders, self.settings, self.housekeeping)
            except Exception as exc:
                # A database outage or a bug must not kill the thread; leases make any
                # half-done work safe to pick up again.
                if is_database_unavailable(exc):
                    self._stop.wait(self._outage(exc))
                    continue
                log.exception("background work failed; retrying after a pause")
                busy = False
            else:
                self._recovered()
            if not busy:
                self._stop.wait(self.settings.worker_poll_seconds)

    def _outage(self, exc: BaseException) -> float:
        """One line when the database becomes unavailable, none per retry; the delay."""
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            self._outage_delay = OUTAGE_FIRST_DELAY_SECONDS
            log.warning(
                "database unavailable (%s); retrying in %g s, backing off to %g s",
                _reason(exc),
                OUTAGE_FIRST_DELAY_SECONDS,
                OUTAGE_MAX_DELAY_SECONDS,
            )
            return self._outage_delay
        self._outage_delay = min(self._outage_delay * 2, OUTAGE_MAX_DELAY_SECONDS)
        log.debug("database still unavailable; next try in %g s", self._outage_delay)
        return self._outage_delay

    def _recovered(self) -> None:
        if self._outage_since is not None:
            log.warning(
                "database available again after %.0f s; background work resumed",
                time.monotonic() - self._outage_since,
            )
            self._outage_since = None
