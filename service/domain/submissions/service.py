"""Submissions: store an answer, score it, and read stored results back."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from service.db.models import GradingResult, Question, Submission
from service.domain.questions import service as question_service
from service.domain.rubrics import service as rubric_service
from service.domain.rubrics.service import GraderCache
from service.domain.submissions.repository import SubmissionRepository
from service.domain.submissions.schemas import SubmissionCreate
from service.errors import DomainError, NotFound
from service.scoring import ENGINE_VERSION, ScoreBreakdown

log = logging.getLogger(__name__)


class InvalidCursor(DomainError):
    status_code = 422
    code = "invalid_cursor"
    title = "Invalid cursor"


def create_submission(
    session: Session, *, graders: GraderCache, body: SubmissionCreate
) -> Submission:
    """Store the answer, then score it.

    The submission row is flushed before scoring, so if scoring fails the answer is still
    committed, with status ``pending``, and is scored later instead of being lost.
    """
    question = question_service.get_question(session, body.question_id)
    submission = Submission(
        question=question,
        learner_id=body.learner_id,
        answer=body.answer,
        status="pending",
        results=[],
    )
    SubmissionRepository(session).add(submission)
    session.flush()
    _try_score(session, submission, question=question, graders=graders)
    return submission


def _try_score(
    session: Session, submission: Submission, *, question: Question, graders: GraderCache
) -> bool:
    version = rubric_service.current_version(session, question)
    started = time.perf_counter()
    try:
        breakdown = graders.get(version).grade(submission.answer)
    except Exception:
        # Any engine failure must not cost the learner their answer: keep it pending.
        log.exception("scoring failed for submission %s; left pending", submission.id)
        return False
    result = _result_row(breakdown, version_id=version.id, content=version.content)
    result.rubric_version = version
    submission.results.insert(0, result)  # kept newest first, like the relationship's order
    submission.status = "scored"
    session.flush()
    log.info(
        "scored submission %s question=%s points=%s engine=%s duration_ms=%.2f",
        submission.id,
        question.id,
        breakdown.points,
        ENGINE_VERSION,
        (time.perf_counter() - started) * 1000,
    )
    return True


def _result_row(
    breakdown: ScoreBreakdown, *, version_id: int, content: dict[str, Any]
) -> GradingResult:
    weights = content.get("weights", {})
    return GradingResult(
        rubric_version_id=version_id,
        engine_version=ENGINE_VERSION,
        points=breakdown.points,
        max_points=breakdown.max_points,
        score=breakdown.score,
        keyword_coverage=breakdown.keyword_coverage,
        similarity=breakdown.similarity,
        details={
            "raw": breakdown.raw,
            "summary": breakdown.summary,
            "weights": weights,
            "criteria": [
                {
                    "id": c.id,
                    "description": c.description,
                    "weight": c.weight,
                    "met": c.met,
                    "matched_phrasing": c.matched_phrasing,
                    "spans": [{"start": s.start, "end": s.end, "text": s.text} for s in c.spans],
                    "feedback": c.feedback,
                }
                for c in breakdown.criteria
            ],
        },
    )


def score_pending(session: Session, *, graders: GraderCache, limit: int = 1000) -> int:
    """Score submissions left pending by an earlier failure; returns how many succeeded."""
    repo = SubmissionRepository(session)
    scored = 0
    for submission_id in repo.list_pending_ids(limit):
        submission = repo.get(submission_id)
        if submission is None or submission.status != "pending":
            continue
        question = question_service.get_question(session, submission.question_id)
        scored += _try_score(session, submission, question=question, graders=graders)
    return scored


def get_submission(session: Session, submission_id: uuid.UUID) -> Submission:
    submission = SubmissionRepository(session).get(submission_id)
    if submission is None:
        raise NotFound(f"No submission with id {submission_id}.")
    return submission


@dataclass(frozen=True)
class Page:
    items: Sequence[Submission]
    next_cursor: str | None


def list_submissions(
    session: Session,
    *,
    question_id: str | None,
    learner_id: str | None,
    cursor: str | None,
    limit: int,
) -> Page:
    after = decode_cursor(cursor) if cursor else None
    rows = SubmissionRepository(session).list_page(
        question_id=question_id, learner_id=learner_id, after=after, limit=limit + 1
    )
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1]) if len(rows) > limit else None
    return Page(items=items, next_cursor=next_cursor)


def encode_cursor(submission: Submission) -> str:
    """Opaque keyset cursor: the (created_at, id) of the last row on the page."""
    payload = json.dumps([submission.created_at.isoformat(), str(submission.id)])
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, submission_id = json.loads(base64.urlsafe_b64decode(padded))
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            raise ValueError("naive timestamp")
        return moment, uuid.UUID(submission_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidCursor(
            "The cursor is not valid; pass the next_cursor value of a previous page unchanged."
        ) from exc
