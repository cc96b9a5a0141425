from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.db.models import ScoreOverride, Submission


class ReviewRepository:
    """Overrides of a submission. Methods take the ``Submission`` itself, which only a
    scoped ``SubmissionRepository`` hands out, so overrides are reached within a scope."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, override: ScoreOverride) -> None:
        self.session.add(override)

    def overrides_of(self, submission: Submission) -> Sequence[ScoreOverride]:
        stmt = (
            select(ScoreOverride)
            .where(ScoreOverride.submission_id == submission.id)
            .options(selectinload(ScoreOverride.api_key))
            .order_by(ScoreOverride.id)
        )
        return self.session.scalars(stmt).all()
