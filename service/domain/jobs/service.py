"""Rescoring jobs: stored in the database, processed in committed batches, resumable.

A job's cursor and counts are committed together with each batch of new results, so a
worker killed mid-job loses at most the batch in flight, and whoever claims the job next
(after its lease expires) continues from the cursor with correct counts.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, defer, selectinload, sessionmaker

from service import observability
from service.db.base import utcnow
from service.db.models import ApiKey, GradingResult, Question, RescoreJob, Submission
from service.db.session import session_scope
from service.domain.jobs.schemas import JobRead
from service.domain.questions import service as question_service
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


def create_rescore_job(session: Session, *, question_id: str, principal: ApiKey) -> RescoreJob:
    question = question_service.get_question(session, question_id)
    version = rubric_service.current_version(session, question)
    total = session.scalar(
        select(func.count()).select_from(Submission).where(Submission.question_id == question_id)
    )
    job = RescoreJob(
        question_id=question_id,
        rubric_version_id=version.id,
        api_key_id=principal.id,
        status="queued",
        total=total or 0,
        processed=0,
        changed=0,
        failed=0,
    )
    job.rubric_version = version
    session.add(job)
    session.flush()
    log.info("rescore job %s queued for %s (%d submissions)", job.id, question_id, job.total)
    return job


def get_job(session: Session, job_id: uuid.UUID) -> RescoreJob:
    stmt = (
        select(RescoreJob)
        .where(RescoreJob.id == job_id)
        .options(selectinload(RescoreJob.rubric_version))
    )
    job = session.scalars(stmt).first()
    if job is None:
        raise NotFound(f"No job with id {job_id}.")
    return job


def present_job(job: RescoreJob) -> JobRead:
    return JobRead(
        id=job.id,
        question_id=job.question_id,
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
        stmt = (
            select(RescoreJob)
            .where(
                or_(
                    RescoreJob.status == "queued",
                    and_(RescoreJob.status == "running", RescoreJob.lease_until < now),
                )
            )
            .order_by(RescoreJob.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        job = session.scalars(stmt).first()
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
    """Rescore the next batch of a claimed job; False when it is finished or no longer ours."""
    with session_scope(factory) as session:
        job = session.get(RescoreJob, claim.job_id, with_for_update=True)
        if job is None or job.status != "running" or job.lease_owner != claim.owner:
            return False
        version = rubric_service.get_version_by_id(session, job.rubric_version_id)
        question = session.get(Question, job.question_id)
        batch = _next_batch(session, job, policy.batch_size)
        # The posting keys, loaded once and held for the batch: the session keeps objects
        # only while referenced, so each callback check would otherwise query its key again.
        owners = _owners(session, batch)
        if not batch or question is None:
            job.status = "succeeded"
            job.finished_at = utcnow()
            job.lease_until = None
            log.info(
                "rescore job %s done: %d processed, %d changed", job.id, job.processed, job.changed
            )
            return False
        for submission in batch:
            latest = submission.latest_result
            if (
                latest is not None
                and latest.rubric_version_id == version.id
                and latest.engine_version == ENGINE_VERSION
            ):
                # Already scored by this very rubric and engine (e.g. posted after the
                # rubric changed): another result would say nothing new.
                job.processed += 1
                observability.count_rescored("unchanged")
                continue
            before = submission.machine_points
            result = submission_service.score_submission(
                session,
                submission,
                question=question,
                graders=graders,
                version=version,
                event="submission.rescored",
                flush=False,  # the batch's commit writes all results at once
            )
            job.processed += 1
            if result is None:
                job.failed += 1
                outcome = "failed"
            elif before != result.points:
                job.changed += 1
                outcome = "changed"
            else:
                outcome = "unchanged"
            observability.count_rescored(outcome)
        del owners
        last = batch[-1]
        job.cursor_created_at, job.cursor_id = last.created_at, last.id
        job.lease_until = utcnow() + timedelta(seconds=policy.lease_seconds)
        return True


def _owners(session: Session, batch: list[Submission]) -> list[ApiKey]:
    ids = {submission.api_key_id for submission in batch if submission.api_key_id is not None}
    if not ids:
        return []
    return list(session.scalars(select(ApiKey).where(ApiKey.id.in_(ids))).all())


def _next_batch(session: Session, job: RescoreJob, size: int) -> list[Submission]:
    # Only what existed when the job was created: ``total`` counted exactly these, and
    # later submissions are scored with the new rubric anyway.
    stmt = select(Submission).where(
        Submission.question_id == job.question_id, Submission.created_at <= job.created_at
    )
    if job.cursor_created_at is not None and job.cursor_id is not None:
        stmt = stmt.where(
            or_(
                Submission.created_at > job.cursor_created_at,
                and_(
                    Submission.created_at == job.cursor_created_at,
                    Submission.id > job.cursor_id,
                ),
            )
        )
    stmt = (
        stmt.order_by(Submission.created_at, Submission.id)
        .limit(size)
        .options(
            selectinload(Submission.results).options(
                # Only the newest result's versions are compared here; the stored details of
                # earlier results are never read by a rescore (loaded if ever accessed).
                defer(GradingResult.details),
                selectinload(GradingResult.rubric_version),
            )
        )
    )
    return list(session.scalars(stmt).all())


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
