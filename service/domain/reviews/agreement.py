"""Grading a handful of answers to calibrate: which answers to propose, and how well the
machine agrees with the instructor's grades so far."""

from __future__ import annotations

import math
import statistics
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.models import Question, Submission

# Agreement is measured on at most this many graded answers, the newest.
AGREEMENT_LIMIT = 5000


@dataclass(frozen=True)
class Candidate:
    submission_id: uuid.UUID
    learner_id: str
    answer: str
    machine_points: float


@dataclass(frozen=True)
class Agreement:
    graded: int  # answers an instructor graded that also have a machine score
    correlation: float | None  # Pearson r (None under 3 answers or no spread)
    exact: float | None  # share where the machine gave the same points
    within_step: float | None  # share within one score step
    mean_difference: float | None  # instructor minus machine


def candidates(session: Session, question: Question, *, count: int = 8) -> list[Candidate]:
    """Ungraded answers spread over the machine's range: the k-th of ``count`` picks is the
    answer at that quantile of machine points, so a few grades cover low, middle and high."""
    base = select(Submission).where(
        Submission.question_id == question.id,
        Submission.is_overridden.is_(False),
        Submission.machine_points.is_not(None),
    )
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    if total == 0:
        return []
    offsets = sorted({round(i * (total - 1) / max(count - 1, 1)) for i in range(count)})
    picked: list[Candidate] = []
    for offset in offsets[:count]:
        row = session.scalars(
            base.order_by(Submission.machine_points, Submission.id).offset(offset).limit(1)
        ).first()
        if row is not None and row.machine_points is not None:
            picked.append(Candidate(row.id, row.learner_id, row.answer, row.machine_points))
    return picked


def agreement(session: Session, question: Question) -> Agreement:
    rows = session.execute(
        select(Submission.machine_points, Submission.points)
        .where(
            Submission.question_id == question.id,
            Submission.is_overridden.is_(True),
            Submission.machine_points.is_not(None),
            Submission.points.is_not(None),
        )
        .order_by(Submission.created_at.desc())
        .limit(AGREEMENT_LIMIT)
    ).all()
    pairs = [(float(m), float(p)) for m, p in rows if m is not None and p is not None]
    if not pairs:
        return Agreement(0, None, None, None, None)
    machine = [m for m, _ in pairs]
    teacher = [p for _, p in pairs]
    correlation: float | None = None
    if len(pairs) >= 3 and len(set(machine)) > 1 and len(set(teacher)) > 1:
        correlation = round(statistics.correlation(machine, teacher), 4)
    step = question.score_step or 0.5
    exact = sum(math.isclose(m, p) for m, p in pairs) / len(pairs)
    within = sum(abs(m - p) <= step + 1e-9 for m, p in pairs) / len(pairs)
    return Agreement(
        graded=len(pairs),
        correlation=correlation,
        exact=round(exact, 4),
        within_step=round(within, 4),
        mean_difference=round(statistics.fmean(p - m for m, p in pairs), 4),
    )
