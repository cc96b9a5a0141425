"""Instructor review: overrides (audited) and per-question analytics."""

from __future__ import annotations

import logging
import math
import uuid
from collections import Counter
from collections.abc import Sequence

from sqlalchemy.orm import Session

from service.db.models import Question, ScoreOverride, Submission
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
from service.errors import Conflict, NotFound, UnprocessableRequest

log = logging.getLogger(__name__)


def create_override(
    session: Session,
    *,
    submission_id: uuid.UUID,
    body: OverrideCreate,
    principal: Principal,
    answer_group_id: uuid.UUID | None = None,
) -> ScoreOverride:
    """Record an instructor's score. The machine result stays; the override becomes effective.

    The one path of every instructor score (one submission, or each member of a graded
    answer group, ``answer_group_id``): the audit row, the webhook and the LMS score."""
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
        answer_group_id=answer_group_id,
    )
    submission.max_points = max_points
    _record(session, submission, override, principal, overridden=True)
    log.info("override %s on submission %s by key %s", override.id, submission.id, principal.key_id)
    return override


def _record(
    session: Session,
    submission: Submission,
    override: ScoreOverride,
    principal: Principal,
    *,
    overridden: bool,
    needs_review: bool = False,
) -> None:
    """Store an override row and make its points effective; tell the integration and the
    LMS (the outbox rows are written in this same transaction)."""
    override.api_key = key_service.own_key(session, principal) if principal.api_key_id else None
    ReviewRepository(session).add(override)
    submission.points = override.new_points
    submission.is_overridden = overridden
    # A teacher has now looked at it (a revert to the machine score restores its flag).
    submission.needs_review = needs_review
    session.flush()
    callback_service.enqueue(
        session,
        submission,
        event="submission.overridden",
        payload=submission_service.callback_payload(submission),
    )
    callback_service.enqueue_lti_score(session, submission)


def _active(overrides: Sequence[ScoreOverride]) -> list[ScoreOverride]:
    """The overrides still in effect, oldest first: not reverts, and not reverted."""
    reverted = {o.reverts_override_id for o in overrides if o.reverts_override_id is not None}
    return [o for o in overrides if o.reverts_override_id is None and o.id not in reverted]


def revert_override(
    session: Session, *, submission_id: uuid.UUID, override_id: int, principal: Principal
) -> ScoreOverride:
    """Undo one override: the submission returns to the points it had before it (the
    override before it, else the machine score). Recorded as a new override row naming the
    one it undid, so the history keeps both; the integration and the LMS hear of it.

    Only the newest override in effect can be reverted (409 otherwise: revert the newer
    ones first), so that "the points before it" is well defined."""
    submission = submission_service.get_submission(
        session, submission_id, scope=principal.submission_scope
    )
    overrides = ReviewRepository(session).overrides_of(submission)
    target = next((o for o in overrides if o.id == override_id), None)
    if target is None:
        raise NotFound(f"No override {override_id} of submission {submission_id}.")
    if target.reverts_override_id is not None:
        raise UnprocessableRequest("This row is itself a revert; override the score instead.")
    active = _active(overrides)
    if target not in active:
        raise Conflict(f"Override {override_id} was reverted already.")
    if active[-1].id != target.id:
        raise Conflict(f"Override {active[-1].id} is newer and still in effect; revert it first.")
    earlier = active[:-1]
    restored = earlier[-1].new_points if earlier else submission.machine_points
    if restored is None:
        raise Conflict("The answer has no machine score to return to yet.")
    revert = ScoreOverride(
        submission_id=submission.id,
        api_key_id=principal.api_key_id,
        actor_name=None if principal.api_key_id else principal.name,
        old_points=submission.points,
        new_points=restored,
        reason=f"Reverted override {target.id}.",
        reverts_override_id=target.id,
    )
    latest = submission.latest_result
    needs_review = not earlier and latest is not None and latest.needs_review
    _record(
        session, submission, revert, principal, overridden=bool(earlier), needs_review=needs_review
    )
    log.info(
        "override %s on submission %s reverted by key %s",
        target.id,
        submission.id,
        principal.key_id,
    )
    return revert


def newest_active_overrides(
    session: Session, submission_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Per submission, the id of the override in effect (the one a revert would undo)."""
    by_submission: dict[uuid.UUID, list[ScoreOverride]] = {}
    for override in ReviewRepository(session).overrides_of_many(submission_ids):
        by_submission.setdefault(override.submission_id, []).append(override)
    newest: dict[uuid.UUID, int] = {}
    for submission_id, overrides in by_submission.items():
        active = _active(overrides)
        if active:
            newest[submission_id] = active[-1].id
    return newest


def individually_overridden(
    session: Session, submission_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Of these submissions, those whose score in effect is an instructor's override made
    one by one (not by grading an answer group)."""
    by_submission: dict[uuid.UUID, list[ScoreOverride]] = {}
    for override in ReviewRepository(session).overrides_of_many(submission_ids):
        by_submission.setdefault(override.submission_id, []).append(override)
    found: set[uuid.UUID] = set()
    for submission_id, overrides in by_submission.items():
        active = _active(overrides)
        if active and active[-1].answer_group_id is None:
            found.add(submission_id)
    return found


def present_override(override: ScoreOverride) -> OverrideRead:
    return OverrideRead(
        id=override.id,
        submission_id=override.submission_id,
        old_points=override.old_points,
        new_points=override.new_points,
        reason=override.reason,
        reverts_override_id=override.reverts_override_id,
        answer_group_id=override.answer_group_id,
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
