"""A dry run of rescoring: score the newest answers with the current rubric and report
what would change, writing nothing. Bounded: at most ``PREVIEW_LIMIT`` answers are scored,
and the result says how many of how many."""

from __future__ import annotations

import logging
from collections import Counter

from sqlalchemy.orm import Session

from service.db.models import Question
from service.db.session import end_read_phase
from service.domain.access.principal import Scope
from service.domain.jobs.repository import JobRepository
from service.domain.jobs.schemas import ChangeBucket, LearnerChange, RescorePreview
from service.domain.rubrics import service as rubric_service
from service.domain.rubrics.service import GraderCache
from service.domain.submissions.repository import SubmissionRepository
from service.domain.submissions.schemas import SubmissionFilter

log = logging.getLogger(__name__)

PREVIEW_LIMIT = 500
LISTED_LEARNERS = 50


def _bucket(change: float, step: float) -> str:
    steps = round(change / step) if step > 0 else 0
    if steps <= -3:
        return "-3+"
    if steps >= 3:
        return "+3+"
    return f"{steps:+d}" if steps else "0"


BUCKET_ORDER = ["-3+", "-2", "-1", "0", "+1", "+2", "+3+"]


def preview_rescore(
    session: Session, question: Question, graders: GraderCache, *, limit: int = PREVIEW_LIMIT
) -> RescorePreview:
    version = rubric_service.current_version(session, question)
    total = JobRepository(session, Scope.organization(question.organization_id)).count_submissions(
        question
    )
    filters = SubmissionFilter(question_id=question.slug, sort="-created_at")
    rows = SubmissionRepository(session, Scope.organization(question.organization_id)).list_page(
        filters, after=None, limit=limit
    )
    snapshot = [
        (row.id, row.learner_id, row.answer, row.points, row.machine_points, row.is_overridden)
        for row in rows
    ]
    # Scoring is CPU work: hold no lock and no connection while it runs.
    end_read_phase(session)
    grader = graders.get(version)
    before: Counter[float] = Counter()
    after: Counter[float] = Counter()
    buckets: Counter[str] = Counter()
    changes: list[float] = []
    learners: list[LearnerChange] = []
    would_change = overridden_kept = failed = 0
    for submission_id, learner_id, answer, points, machine, overridden in snapshot:
        try:
            new_points = grader.grade(answer).points
        except Exception:
            log.exception("preview: scoring failed for submission %s", submission_id)
            failed += 1
            continue
        if points is not None:
            before[points] += 1
        effective = points if overridden and points is not None else new_points
        after[effective] += 1
        if overridden and machine != new_points:
            overridden_kept += 1
        old = points if points is not None else 0.0
        change = effective - old if points is not None else effective
        buckets[_bucket(change, question.score_step)] += 1
        if points is None or effective != points:
            would_change += 1
            changes.append(abs(change))
            if len(learners) < LISTED_LEARNERS:
                learners.append(
                    LearnerChange(
                        submission_id=submission_id,
                        learner_id=learner_id,
                        before=points,
                        after=effective,
                    )
                )
    scored = len(snapshot) - failed
    return RescorePreview(
        question_id=question.slug,
        rubric_version=version.version,
        total=total,
        examined=len(snapshot),
        would_change=would_change,
        unchanged=scored - would_change,
        overridden_kept=overridden_kept,
        failed=failed,
        mean_abs_change=round(sum(changes) / len(changes), 4) if changes else None,
        max_abs_change=max(changes) if changes else None,
        buckets=[ChangeBucket(label=b, count=buckets[b]) for b in BUCKET_ORDER],
        before=sorted(before.items()),
        after=sorted(after.items()),
        learners=learners,
    )
