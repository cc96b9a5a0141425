from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session, selectinload

from service.db.models import ApiKey, GradingResult, Question, RescoreJob, Submission
from service.domain.access.principal import Scope
from service.domain.access.sql import scope_conditions


class JobRepository:
    """Rescoring jobs within a scope (the job carries its question's organisation and course)."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    def _where(self) -> list[ColumnElement[bool]]:
        return scope_conditions(
            self.scope, organization=RescoreJob.organization_id, course=RescoreJob.course_id
        )

    def add(self, job: RescoreJob) -> None:
        self.session.add(job)

    def get(self, job_id: uuid.UUID) -> RescoreJob | None:
        stmt = (
            select(RescoreJob)
            .where(RescoreJob.id == job_id, *self._where())
            .options(selectinload(RescoreJob.rubric_version), selectinload(RescoreJob.question))
        )
        return self.session.scalars(stmt).first()

    def count_submissions(self, question: Question) -> int:
        stmt = (
            select(func.count())
            .select_from(Submission)
            .where(Submission.question_id == question.id)
        )
        return self.session.scalar(stmt) or 0

    # The worker's statements (system scope: a job carries the scope it was created in).

    def claimable(self, now: datetime) -> RescoreJob | None:
        """The oldest queued job, or a running one whose worker's lease has expired, locked
        (``SKIP LOCKED``: two workers never claim the same job)."""
        stmt = (
            select(RescoreJob)
            .where(
                *self._where(),
                or_(
                    RescoreJob.status == "queued",
                    and_(RescoreJob.status == "running", RescoreJob.lease_until < now),
                ),
            )
            .order_by(RescoreJob.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        return self.session.scalars(stmt).first()

    def lock(self, job_id: uuid.UUID) -> RescoreJob | None:
        job = self.session.get(RescoreJob, job_id, with_for_update=True)
        if job is None or (
            not self.scope.is_system and job.organization_id != self.scope.organization_id
        ):
            return None
        return job

    def next_rows(self, job: RescoreJob, size: int) -> Sequence[Any]:
        """The next submissions after the job's cursor, as plain rows with their newest
        result's rubric version and engine. Only what existed when the job was created:
        ``total`` counted exactly these, and later submissions are scored with the new
        rubric anyway."""
        newest = (
            select(func.max(GradingResult.id))
            .where(GradingResult.submission_id == Submission.id)
            .correlate(Submission)
            .scalar_subquery()
        )
        stmt = (
            select(
                Submission.id,
                Submission.created_at,
                Submission.answer,
                Submission.machine_points,
                Submission.is_overridden,
                Submission.api_key_id,
                Submission.lti_resource_link_id,
                GradingResult.rubric_version_id.label("latest_version_id"),
                GradingResult.engine_version.label("latest_engine"),
            )
            .outerjoin(GradingResult, GradingResult.id == newest)
            .where(
                Submission.question_id == job.question_id,
                Submission.created_at <= job.created_at,
            )
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
        stmt = stmt.order_by(Submission.created_at, Submission.id).limit(size)
        return self.session.execute(stmt).all()

    def keys_with_callbacks(self, rows: Sequence[Any]) -> set[uuid.UUID]:
        ids = {row.api_key_id for row in rows if row.api_key_id is not None}
        if not ids:
            return set()
        stmt = select(ApiKey.id).where(
            ApiKey.id.in_(ids), ApiKey.callback_url.is_not(None), ApiKey.revoked_at.is_(None)
        )
        return set(self.session.scalars(stmt).all())

    def load_submissions(self, ids: Sequence[uuid.UUID]) -> list[Submission]:
        if not ids:
            return []
        stmt = (
            select(Submission)
            .where(Submission.id.in_(ids))
            .order_by(Submission.created_at, Submission.id)
            .options(
                selectinload(Submission.results).selectinload(GradingResult.rubric_version),
                selectinload(Submission.question),
            )
        )
        return list(self.session.scalars(stmt).all())

    def write_results(
        self,
        results: list[dict[str, Any]],
        scored: list[dict[str, Any]],
        overridden: list[dict[str, Any]],
    ) -> None:
        """A batch's results and new scores in three statements (one multi-row INSERT, two
        bulk UPDATEs by primary key)."""
        if results:
            self.session.execute(insert(GradingResult), results)
        for updates in (scored, overridden):
            if updates:
                self.session.execute(update(Submission), updates)
