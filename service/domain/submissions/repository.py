from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, selectinload

from service.db.models import GradingResult, Submission


def _with_results(stmt: Select[Submission]) -> Select[Submission]:
    return stmt.options(selectinload(Submission.results).selectinload(GradingResult.rubric_version))


class SubmissionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, obj: Submission | GradingResult) -> None:
        self.session.add(obj)

    def get(self, submission_id: uuid.UUID) -> Submission | None:
        stmt = _with_results(select(Submission).where(Submission.id == submission_id))
        return self.session.scalars(stmt).first()

    def list_page(
        self,
        *,
        question_id: str | None,
        learner_id: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> Sequence[Submission]:
        """Newest first; ``after`` is the (created_at, id) of the last row already seen."""
        stmt = select(Submission)
        if question_id is not None:
            stmt = stmt.where(Submission.question_id == question_id)
        if learner_id is not None:
            stmt = stmt.where(Submission.learner_id == learner_id)
        if after is not None:
            created_at, last_id = after
            stmt = stmt.where(
                or_(
                    Submission.created_at < created_at,
                    and_(Submission.created_at == created_at, Submission.id < last_id),
                )
            )
        stmt = stmt.order_by(Submission.created_at.desc(), Submission.id.desc()).limit(limit)
        return self.session.scalars(_with_results(stmt)).all()

    def list_pending_ids(self, limit: int) -> Sequence[uuid.UUID]:
        stmt = (
            select(Submission.id)
            .where(Submission.status == "pending")
            .order_by(Submission.created_at)
            .limit(limit)
        )
        return self.session.scalars(stmt).all()
