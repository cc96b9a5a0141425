from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
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

    def next_rows(
        self, job: RescoreJob, size: int, *, after: tuple[datetime, uuid.UUID] | None = None
    ) -> Sequence[Any]:
        """The next submissions after ``after`` (default: the job's committed cursor), as
        plain rows with their newest result's rubric version and engine. Only what existed
        when the job was created: ``total`` counted exactly these, and later submissions
        are scored with the new rubric anyway."""
        page = select(
            Submission.id,
            Submission.created_at,
            Submission.answer,
            Submission.machine_points,
            Submission.api_key_id,
            Submission.lti_resource_link_id,
        ).where(
            Submission.question_id == job.question_id,
            Submission.created_at <= job.created_at,
        )
        if after is None and job.cursor_created_at is not None and job.cursor_id is not None:
            after = (job.cursor_created_at, job.cursor_id)
        if after is not None:
            created_at, submission_id = after
            page = page.where(
                # Implied by the next condition; stated so the (question_id, created_at)
                # index range starts at the cursor instead of the first submission.
                Submission.created_at >= created_at,
                or_(
                    Submission.created_at > created_at,
                    and_(Submission.created_at == created_at, Submission.id > submission_id),
                ),
            )
        rows = page.order_by(Submission.created_at, Submission.id).limit(size).subquery("page")
        # The newest result is looked up for the page's rows only, after the LIMIT: joined
        # before it, PostgreSQL ran the lookup for every remaining submission in each batch.
        newest = (
            select(func.max(GradingResult.id))
            .where(GradingResult.submission_id == rows.c.id)
            .correlate(rows)
            .scalar_subquery()
        )
        stmt = (
            select(
                *rows.c,
                GradingResult.rubric_version_id.label("latest_version_id"),
                GradingResult.engine_version.label("latest_engine"),
            )
            .select_from(rows)
            .outerjoin(GradingResult, GradingResult.id == newest)
            .order_by(rows.c.created_at, rows.c.id)
        )
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

    def write_results(self, results: Sequence[ResultValues], scores: Sequence[NewScore]) -> None:
        """A batch's results and new scores: on PostgreSQL one COPY and one UPDATE; elsewhere
        one multi-row INSERT and one executemany UPDATE by primary key."""
        if not results and not scores:
            return
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            _write_postgresql(connection, results, scores)
            return
        if results:
            self.session.execute(insert(GradingResult), [r.as_row() for r in results])
        if scores:
            self.session.execute(_UPDATE_SCORES_BY_ID, [s.as_parameters() for s in scores])


@dataclass(frozen=True, slots=True)
class ResultValues:
    """One new ``grading_result`` row: ``values`` as ``result_values`` gives them."""

    submission_id: uuid.UUID
    created_at: datetime
    values: dict[str, Any]

    def as_row(self) -> dict[str, Any]:
        return {**self.values, "submission_id": self.submission_id, "created_at": self.created_at}


@dataclass(frozen=True, slots=True)
class NewScore:
    """A submission's new machine score; ``points`` and ``needs_review`` only replace the
    current ones when no instructor has overridden the score (judged when written)."""

    id: uuid.UUID
    machine_points: float
    max_points: float
    points: float
    needs_review: bool

    def as_parameters(self) -> dict[str, Any]:
        return {
            "b_id": self.id,
            "b_machine_points": self.machine_points,
            "b_max_points": self.max_points,
            "b_points": self.points,
            "b_needs_review": self.needs_review,
        }


_SUBMISSION = cast(Table, Submission.__table__)


def _kept_if_overridden(column: str) -> Any:
    # Decided by the row as it is when written, not as it was read: the batch is scored
    # outside the write transaction, and an instructor's override may land in between.
    current = _SUBMISSION.c[column]
    return case((_SUBMISSION.c.is_overridden, current), else_=bindparam(f"b_{column}"))


_UPDATE_SCORES_BY_ID = (
    update(_SUBMISSION)
    .where(_SUBMISSION.c.id == bindparam("b_id"))
    .values(
        status="scored",
        machine_points=bindparam("b_machine_points"),
        max_points=bindparam("b_max_points"),
        points=_kept_if_overridden("points"),
        needs_review=_kept_if_overridden("needs_review"),
    )
)


_RESULT_COLUMNS = (
    "submission_id",
    "rubric_version_id",
    "engine_version",
    "points",
    "max_points",
    "score",
    "keyword_coverage",
    "similarity",
    "model",
    "confidence",
    "needs_review",
    "advisories",
    "details",
    "created_at",
)
_COPY_RESULTS = f"COPY grading_result ({', '.join(_RESULT_COLUMNS)}) FROM STDIN"
# One statement for the whole batch; as in ``_UPDATE_SCORES_BY_ID``, an override is judged
# by the row as the UPDATE locks it, so one committed after the batch was read is kept.
_UPDATE_SCORES = """
UPDATE submission AS s SET
    status = 'scored',
    machine_points = v.machine_points,
    max_points = v.max_points,
    points = CASE WHEN s.is_overridden THEN s.points ELSE v.points END,
    needs_review = CASE WHEN s.is_overridden THEN s.needs_review ELSE v.needs_review END
FROM unnest(%s::uuid[], %s::float8[], %s::float8[], %s::float8[], %s::bool[])
    AS v(id, machine_points, max_points, points, needs_review)
WHERE s.id = v.id
"""


def _write_postgresql(
    connection: Connection, results: Sequence[ResultValues], scores: Sequence[NewScore]
) -> None:
    """COPY and one array-parameter UPDATE on the session's own connection (so in its
    transaction): the ORM's executemany sent one INSERT and one UPDATE per row, and
    formatting those parameters, not the server, was most of the batch's database time."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if results:
            with cursor.copy(_COPY_RESULTS) as copy:
                for result in results:
                    copy.write_row(_copy_row(result))
        if scores:
            cursor.execute(
                _UPDATE_SCORES,
                (
                    [s.id for s in scores],
                    [s.machine_points for s in scores],
                    [s.max_points for s in scores],
                    [s.points for s in scores],
                    [s.needs_review for s in scores],
                ),
            )
    finally:
        cursor.close()


def _copy_row(result: ResultValues) -> tuple[Any, ...]:
    values = result.values
    # The JSON columns as SQLAlchemy's default serializer would write them (json.dumps).
    return (
        result.submission_id,
        values["rubric_version_id"],
        values["engine_version"],
        values["points"],
        values["max_points"],
        values["score"],
        values["keyword_coverage"],
        values["similarity"],
        values["model"],
        values["confidence"],
        values["needs_review"],
        json.dumps(values["advisories"]),
        json.dumps(values["details"]),
        result.created_at,
    )
