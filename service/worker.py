"""Background work: rescoring jobs, callback deliveries and scoring retries, claimed from
the database.

Any number of workers (a thread in each API process, or ``python -m service worker``
processes) can run at once: jobs and deliveries are claimed with row locks
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers) and leases, so each
piece of work is done by one worker, and work whose worker died is picked up again.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.domain.callbacks import service as callback_service
from service.domain.callbacks.service import DeliveryPolicy
from service.domain.jobs import service as job_service
from service.domain.jobs.service import JobPolicy
from service.domain.rubrics.service import GraderCache
from service.domain.submissions import service as submission_service
from service.domain.submissions.service import ScoringPolicy

log = logging.getLogger(__name__)


def policies(settings: Settings) -> tuple[JobPolicy, DeliveryPolicy]:
    return (
        JobPolicy(batch_size=settings.job_batch_size, lease_seconds=settings.job_lease_seconds),
        DeliveryPolicy(
            max_attempts=settings.callback_max_attempts,
            base_delay_seconds=settings.callback_base_delay_seconds,
            timeout_seconds=settings.callback_timeout_seconds,
        ),
    )


def scoring_policy(settings: Settings) -> ScoringPolicy:
    return ScoringPolicy(
        max_attempts=settings.scoring_max_attempts,
        base_delay_seconds=settings.scoring_base_delay_seconds,
    )


def run_once(factory: sessionmaker[Session], graders: GraderCache, settings: Settings) -> bool:
    """One round: deliver due callbacks, work on one job, retry the scorings that are due.
    True if anything was done."""
    job_policy, delivery_policy = policies(settings)
    delivered = callback_service.deliver_due(factory, policy=delivery_policy)
    job = job_service.run_next_job(factory, graders, job_policy)
    retried = submission_service.retry_pending(
        factory, graders=graders, policy=scoring_policy(settings), limit=settings.job_batch_size
    )
    return bool(delivered) or job is not None or retried.tried > 0


class Worker:
    """A daemon thread running ``run_once`` until stopped; errors are logged, not fatal."""

    def __init__(
        self, factory: sessionmaker[Session], graders: GraderCache, settings: Settings
    ) -> None:
        self.factory = factory
        self.graders = graders
        self.settings = settings
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
                busy = run_once(self.factory, self.graders, self.settings)
            except Exception:
                # A database outage or a bug must not kill the thread; leases make any
                # half-done work safe to pick up again.
                log.exception("background work failed; retrying after a pause")
                busy = False
            if not busy:
                self._stop.wait(self.settings.worker_poll_seconds)
