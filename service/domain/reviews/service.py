"""Instructor review: overrides (audited) and per-question analytics."""

from __future__ import annotations

import logging
import math
import uuid
from collections import Counter
from collections.abc import Sequence

from sqlalchemy.orm import Session

from service.db.models import Question, ScoreOverride
from service.domain.access.principal import Principal
from service.domain.callbacks import service as callback_service
from service.domain.keys import service as key_service
from service.domain.reviews.repository import QuestionStatsRepository, ReviewRepository
from service.domain.reviews.schemas import (
    CriterionStats,
    Distribution,
    OverrideCreate,
    OverrideRead,
    QuestionStats,
)
from service.domain.rubrics import service as rubric_service
from service.domain.submissions import service as submission_service
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
        api_key_id=principal.api_key_id,
        actor_name=None if principal.api_key_id else principal.name,
        old_points=submission.points,
        new_points=body.points,
        reason=body.reason,
    )
    override.api_key = key_service.own_key(session, principal) if principal.api_key_id else None
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
    callback_service.enqueue_lti_score(session, submission)
    log.info("override %s on submission %s by key %s", override.id, submission.id, principal.key_id)
    return override


def present_override(override: ScoreOverride) -> OverrideRead:
    return OverrideRead(
        id=override.id,
        submission_id=override.submission_id,
        old_points=override.old_points,
        new_points=override.new_points,
        reason=override.reason,
        created_at=override.created_at,
        api_key_id=override.api_key_id,
        by_key_name=override.api_key.name if override.api_key else override.actor_name or "",
    )


def list_overrides(
    session: Session, *, submission_id: uuid.UUID, principal: Principal
) -> Sequence[ScoreOverride]:
    submission = submission_service.get_submission(
        session, submission_id, scope=principal.submission_scope
    )
    return ReviewRepository(session).overrides_of(submission)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


# Criterion hit rates are read from the details of this many newest scored answers: the
# figure is a rate, which a few hundred answers estimate within a few points, and reading
# every result's JSON would make the page's cost grow with the class.
HIT_RATE_SAMPLE = 200


def _median(distribution: list[tuple[float, int]], n: int) -> float | None:
    """The median from (value, count) pairs in order: O(distinct values), not O(n)."""
    if n == 0:
        return None
    wanted = [(n - 1) // 2, n // 2]
    found: list[float] = []
    seen = 0
    for value, count in distribution:
        while wanted and wanted[0] < seen + count:
            found.append(value)
            wanted.pop(0)
        seen += count
    return (found[0] + found[1]) / 2


def question_stats(session: Session, question: Question) -> QuestionStats:
    """How a question went: counts, spread and distribution aggregated by the database,
    criterion hit rates over the newest ``HIT_RATE_SAMPLE`` scored answers."""
    version = rubric_service.current_version(session, question)
    criteria = {c["id"]: c["description"] for c in version.content["criteria"]}
    repo = QuestionStatsRepository(session, question)
    totals = repo.totals()
    distribution = repo.distribution()
    n = totals.with_points
    mean = totals.total / n if n else None
    variance = max(totals.total_squares / n - (mean or 0.0) ** 2, 0.0) if n else None
    hits: Counter[str] = Counter()
    sampled = repo.latest_details(HIT_RATE_SAMPLE)
    for details in sampled:
        hits.update(c["id"] for c in details["criteria"] if c["met"])
    return QuestionStats(
        question_id=question.slug,
        submissions=totals.submissions,
        scored=totals.submissions - totals.pending,
        pending=totals.pending,
        mean_points=round(mean, 4) if mean is not None else None,
        median_points=_median(distribution, n),
        stdev_points=round(math.sqrt(variance), 4) if variance is not None else None,
        min_points=totals.lowest,
        max_points=totals.highest,
        max_possible=question.max_points,
        distribution=[Distribution(points=p, count=c) for p, c in distribution],
        criteria=sorted(
            (
                CriterionStats(
                    id=cid,
                    description=description,
                    hit_rate=round(hits[cid] / len(sampled), 4) if sampled else 0.0,
                )
                for cid, description in criteria.items()
            ),
            key=lambda c: c.hit_rate,
        ),
        criteria_sample=len(sampled),
        needs_review=totals.needs_review,
        overridden=totals.overridden,
        override_rate=round(totals.overridden / totals.submissions, 4)
        if totals.submissions
        else None,
        mean_override_difference=round(
            totals.override_difference_sum / totals.override_difference_count, 4
        )
        if totals.override_difference_count
        else None,
    )
