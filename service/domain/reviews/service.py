"""Instructor review: overrides (audited) and per-question analytics."""

from __future__ import annotations

import logging
import statistics
import uuid
from collections import Counter
from collections.abc import Sequence

from sqlalchemy.orm import Session

from service.db.models import Question, ScoreOverride
from service.domain.access.principal import Principal, Scope
from service.domain.callbacks import service as callback_service
from service.domain.keys import service as key_service
from service.domain.reviews.repository import ReviewRepository
from service.domain.reviews.schemas import (
    CriterionStats,
    Distribution,
    OverrideCreate,
    QuestionStats,
)
from service.domain.rubrics import service as rubric_service
from service.domain.submissions import service as submission_service
from service.domain.submissions.repository import SubmissionRepository
from service.domain.submissions.schemas import SubmissionFilter
from service.errors import UnprocessableRequest

log = logging.getLogger(__name__)


def create_override(
    session: Session, *, submission_id: uuid.UUID, body: OverrideCreate, principal: Principal
) -> ScoreOverride:
    """Record an instructor's score. The machine result stays; the override becomes effective."""
    submission = submission_service.get_submission(
        session, submission_id, scope=principal.submission_scope
    )
    max_points = submission.max_points
    if max_points is None:
        max_points = submission.question.max_points
    if body.points > max_points:
        raise UnprocessableRequest(
            f"points {body.points:g} is above the maximum of {max_points:g} for this question."
        )
    override = ScoreOverride(
        submission_id=submission.id,
        api_key_id=principal.key_id,
        old_points=submission.points,
        new_points=body.points,
        reason=body.reason,
    )
    override.api_key = key_service.own_key(session, principal)
    ReviewRepository(session).add(override)
    submission.points = body.points
    submission.max_points = max_points
    submission.is_overridden = True
    # A teacher has now looked at it.
    submission.needs_review = False
    session.flush()
    callback_service.enqueue(
        session,
        submission,
        event="submission.overridden",
        payload=submission_service.callback_payload(submission),
    )
    log.info("override %s on submission %s by key %s", override.id, submission.id, principal.key_id)
    return override


def list_overrides(
    session: Session, *, submission_id: uuid.UUID, principal: Principal
) -> Sequence[ScoreOverride]:
    submission = submission_service.get_submission(
        session, submission_id, scope=principal.submission_scope
    )
    return ReviewRepository(session).overrides_of(submission)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def question_stats(session: Session, question: Question) -> QuestionStats:
    """Analytics over every submission of a question, streamed in pages."""
    question_id = question.slug
    version = rubric_service.current_version(session, question)
    criteria = {c["id"]: c["description"] for c in version.content["criteria"]}
    hits: Counter[str] = Counter()
    distribution: Counter[float] = Counter()
    points: list[float] = []
    differences: list[float] = []
    total = pending = needs_review = overridden = scored_with_result = 0
    filters = SubmissionFilter(question_id=question_id, sort="created_at")
    scope = Scope.organization(question.organization_id)
    for submission in SubmissionRepository(session, scope).iterate(filters):
        total += 1
        needs_review += submission.needs_review
        if submission.status == "pending":
            pending += 1
        if submission.points is not None:
            points.append(submission.points)
            distribution[submission.points] += 1
        if submission.is_overridden:
            overridden += 1
            if submission.machine_points is not None and submission.points is not None:
                differences.append(submission.points - submission.machine_points)
        latest = submission.latest_result
        if latest is not None:
            scored_with_result += 1
            hits.update(c["id"] for c in latest.details["criteria"] if c["met"])
    return QuestionStats(
        question_id=question_id,
        submissions=total,
        scored=total - pending,
        pending=pending,
        mean_points=round(statistics.fmean(points), 4) if points else None,
        median_points=statistics.median(points) if points else None,
        stdev_points=round(statistics.pstdev(points), 4) if points else None,
        min_points=min(points) if points else None,
        max_points=max(points) if points else None,
        max_possible=question.max_points,
        distribution=[Distribution(points=p, count=n) for p, n in sorted(distribution.items())],
        criteria=sorted(
            (
                CriterionStats(
                    id=cid,
                    description=description,
                    hit_rate=round(hits[cid] / scored_with_result, 4)
                    if scored_with_result
                    else 0.0,
                )
                for cid, description in criteria.items()
            ),
            key=lambda c: c.hit_rate,
        ),
        needs_review=needs_review,
        overridden=overridden,
        override_rate=round(overridden / total, 4) if total else None,
        mean_override_difference=round(statistics.fmean(differences), 4) if differences else None,
    )
