"""ORM tables. Schema changes go through Alembic migrations only (see ``migrations/``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db.base import Base, UTCDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Question(Base):
    """A question, identified by a slug. Its current rubric is its newest ``RubricVersion``;
    title, prompt and points are copied from that version so listings need no join."""

    __tablename__ = "question"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    max_points: Mapped[float] = mapped_column(Float)
    score_step: Mapped[float] = mapped_column(Float)
    # Number of the current (newest) rubric version.
    rubric_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    rubric_versions: Mapped[list[RubricVersion]] = relationship(
        back_populates="question", lazy="raise", order_by="RubricVersion.version"
    )


class RubricVersion(Base):
    """An immutable rubric. Results point at the version that scored them, so editing a
    rubric never changes what an old score meant."""

    __tablename__ = "rubric_version"
    __table_args__ = (
        UniqueConstraint("question_id", "version"),
        CheckConstraint("source IN ('file', 'api')", name="source"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    question_id: Mapped[str] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    # The validated rubric as canonical JSON, and the SHA-256 of that JSON.
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    # Where it came from: a file in rubrics/ or an instructor through the API. A file is only
    # re-imported when it differs from the last version imported *from that file*, so a
    # restart never reverts an instructor's edit.
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    question: Mapped[Question] = relationship(back_populates="rubric_versions", lazy="raise")


class Submission(Base):
    """One learner's answer. The answer is stored before it is scored, so a scoring failure
    leaves it ``pending`` rather than lost."""

    __tablename__ = "submission"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'scored')", name="status"),
        Index("ix_submission_created_at_id", "created_at", "id"),
        Index("ix_submission_question_id_created_at", "question_id", "created_at"),
        Index("ix_submission_learner_id_created_at", "learner_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    question_id: Mapped[str] = mapped_column(ForeignKey("question.id", ondelete="RESTRICT"))
    learner_id: Mapped[str] = mapped_column(String(255))
    answer: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    question: Mapped[Question] = relationship(lazy="raise")
    results: Mapped[list[GradingResult]] = relationship(
        back_populates="submission", lazy="raise", order_by="GradingResult.id.desc()"
    )

    @property
    def latest_result(self) -> GradingResult | None:
        """The machine score: the newest result (``results`` is ordered newest first)."""
        return self.results[0] if self.results else None


class GradingResult(Base):
    """One scoring of a submission by one rubric version and engine version."""

    __tablename__ = "grading_result"
    __table_args__ = (Index("ix_grading_result_submission_id_id", "submission_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE")
    )
    rubric_version_id: Mapped[int] = mapped_column(
        ForeignKey("rubric_version.id", ondelete="RESTRICT")
    )
    engine_version: Mapped[str] = mapped_column(String(32))
    points: Mapped[float] = mapped_column(Float)
    max_points: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    keyword_coverage: Mapped[float] = mapped_column(Float)
    similarity: Mapped[float] = mapped_column(Float)
    # Per-criterion results with evidence spans, the summary and the blend weights used.
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="results", lazy="raise")
    rubric_version: Mapped[RubricVersion] = relationship(lazy="raise")
