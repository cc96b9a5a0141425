"""Rescoring jobs: stored in the database, processed in committed batches, resumable.

A job's cursor and counts are committed together with each batch of new results, so a
worker killed mid-job loses at most the batch in flight, and whoever claims the job next
(after its lease expires) continues from the cursor with correct counts.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from service import observability
from service.db.base import utcnow
from service.db.models import (
    Question,
    RescoreJob,
    RubricVersion,
    Submission,
)
from service.db.session import session_scope
from service.domain.access.principal import Principal, Scope
from service.domain.grouping import repository as grouping_repository
from service.domain.jobs.repository import JobRepository
from service.domain.jobs.schemas import JobRead
from service.domain.rubrics import service as rubric_service
from service.domain.rubrics.service import GraderCache
from service.domain.submissions import service as submission_service
from service.errors import NotFound
from service.scoring import ENGINE_VERSION

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobPolicy:
    batch_size: int = 200
    lease_seconds: float = 30.0


def create_rescore_job(session: Session, *, question: Question, principal: Principal) -> RescoreJob:
    version = rubric_service.current_version(session, question)
    jobs = JobRepository(session, principal.scope)
    job = RescoreJob(
        question_id=question.id,
        organization_id=question.organization_id,
        course_id=question.course_id,
        rubric_version_id=version.id,
        api_key_id=principal.api_key_id,
        status="queued",
        total=jobs.count_submissions(question),
        processed=0,
        changed=0,
        failed=0,
    )
    job.rubric_version = version
    job.question = question
    jobs.add(job)
    session.flush()
    log.info("rescore job %s queued for %s (%d submissions)", job.id, question.id, job.total)
    return job


def get_job(session: Session, scope: Scope, job_id: uuid.UUID) -> RescoreJob:
    job = JobRepository(session, scope).get(job_id)
    if job is None:
        raise NotFound(f"No job with id {job_id}.")
    return job


def present_job(job: RescoreJob) -> JobRead:
    return JobRead(
        id=job.id,
        question_id=job.question.slug,
        rubric_version=job.rubric_version.version,
        status=job.status,
        total=job.total,
        processed=job.processed,
        changed=job.changed,
        failed=job.failed,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


@dataclass(frozen=True)
class Claim:
    job_id: uuid.UUID
    owner: str


def _claim(factory: sessionmaker[Session], policy: JobPolicy) -> Claim | None:
    """Take the oldest queued job, or a running one whose worker's lease has expired."""
    now = utcnow()
    with session_scope(factory) as session:
        job = JobRepository(session, Scope.system()).claimable(now)
        if job is None:
            return None
        if job.status == "queued":
            job.started_at = now
        else:
            log.info("resuming rescore job %s from its last committed batch", job.id)
        job.status = "running"
        job.lease_until = now + timedelta(seconds=policy.lease_seconds)
        job.lease_owner = uuid.uuid4().hex
        return Claim(job.id, job.lease_owner)


def run_batch(
    factory: sessionmaker[Session], graders: GraderCache, claim: Claim, policy: JobPolicy
) -> bool:
    """Rescore the next batch of a claimed job; False when it is finished or no longer ours.

    Answers are read as plain rows and results written with one multi-row INSERT and
    UPDATE per batch: at 100,000 answers the ORM's per-object bookkeeping, not scoring,
    was the cost. Submissions whose integration wants a callback take the ORM path, whose
    payload shows the stored result, exactly as a live submission does; so do submissions
    made through an LTI launch, whose new score goes to the LMS gradebook.
    """
    with session_scope(factory) as session:
        jobs = JobRepository(session, Scope.system())
        job = jobs.lock(claim.job_id)
        if job is None or job.status != "running" or job.lease_owner != claim.owner:
            return False
        version = rubric_service.get_version_by_id(session, job.rubric_version_id)
        question = session.get(Question, job.question_id)
        rows = jobs.next_rows(job, policy.batch_size)
        if not rows or question is None:
            job.status = "succeeded"
            job.finished_at = utcnow()
            job.lease_until = None
            log.info(
                "rescore job %s done: %d processed, %d changed", job.id, job.processed, job.changed
            )
            return False
        # Rows that send something when their score changes (an integration's webhook, an
        # LMS gradebook score) take the ORM path, which writes their outbox rows.
        with_callbacks = jobs.keys_with_callbacks(rows)

        def sends(row: Any) -> bool:
            return row.api_key_id in with_callbacks or row.lti_resource_link_id is not None

        bulk = [row for row in rows if not sends(row)]
        if bulk:  # the ORM path marks its own; the bulk rows change the answer groups too
            grouping_repository.mark_stale(session, question.id, now=utcnow())
        for outcome in _rescore_rows(session, graders, version, bulk):
            _count(job, outcome)
        outbox_ids = [row.id for row in rows if sends(row)]
        for submission in jobs.load_submissions(outbox_ids):
            _count(job, _rescore_one(session, graders, question, version, submission))
        last = rows[-1]
        job.cursor_created_at, job.cursor_id = last.created_at, last.id
        job.lease_until = utcnow() + timedelta(seconds=policy.lease_seconds)
        return True


def _count(job: RescoreJob, outcome: str) -> None:
    job.processed += 1
    if outcome == "failed":
        job.failed += 1
    elif outcome == "changed":
        job.changed += 1
    observability.count_rescored(outcome)


def _already_current(row: Any, version: RubricVersion) -> bool:
    """Scored by this very rubric and engine already (e.g. posted after the rubric
    changed): another result would say nothing new."""
    return bool(row.latest_version_id == version.id and row.latest_engine == ENGINE_VERSION)


def _rescore_rows(
    session: Session, graders: GraderCache, version: RubricVersion, rows: Sequence[Any]
) -> Iterator[str]:
    """Score plain rows and write all their results and new scores in three statements."""
    results: list[dict[str, Any]] = []
    scored: list[dict[str, Any]] = []
    overridden: list[dict[str, Any]] = []
    for row in rows:
        if _already_current(row, version):
            yield "unchanged"
            continue
        started = time.perf_counter()
        try:
            breakdown = graders.get(version).grade(row.answer)
        except Exception:
            observability.observe_scoring(time.perf_counter() - started, failed=True)
            log.exception("rescoring failed for submission %s; left as it was", row.id)
            yield "failed"
            continue
        observability.observe_scoring(time.perf_counter() - started)
        results.append(
            {
                **submission_service.result_values(breakdown, version=version),
                "submission_id": row.id,
            }
        )
        values = {
            "id": row.id,
            "status": "scored",
            "machine_points": breakdown.points,
            "max_points": breakdown.max_points,
        }
        if row.is_overridden:  # an instructor's score is never replaced
            overridden.append(values)
        else:
            scored.append(
                {**values, "points": breakdown.points, "needs_review": breakdown.needs_review}
            )
        yield "changed" if row.machine_points != breakdown.points else "unchanged"
    JobRepository(session, Scope.system()).write_results(results, scored, overridden)


def _rescore_one(
    session: Session,
    graders: GraderCache,
    question: Question,
    version: RubricVersion,
    submission: Submission,
) -> str:
    latest = submission.latest_result
    if (
        latest is not None
        and latest.rubric_version_id == version.id
        and latest.engine_version == ENGINE_VERSION
    ):
        return "unchanged"
    before = submission.machine_points
    result = submission_service.score_submission(
        session,
        submission,
        question=question,
        graders=graders,
        version=version,
        event="submission.rescored",
    )
    if result is None:
        return "failed"
    return "changed" if before != result.points else "unchanged"


def run_next_job(
    factory: sessionmaker[Session],
    graders: GraderCache,
    policy: JobPolicy,
    *,
    max_batches: int | None = None,
) -> uuid.UUID | None:
    """Claim one job and work on it (to the end, or ``max_batches``); returns its id."""
    claim = _claim(factory, policy)
    if claim is None:
        return None
    batches = 0
    while run_batch(factory, graders, claim, policy):
        batches += 1
        if max_batches is not None and batches >= max_batches:
            break
    return claim.job_id
