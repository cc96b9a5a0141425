"""Submissions: store an answer, score it, read stored results back, rescore."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from service import observability
from service.db.base import utcnow
from service.db.models import ApiKey, GradingResult, Question, RubricVersion, Submission
from service.domain.access.principal import Principal, Scope
from service.domain.callbacks import service as callback_service
from service.domain.questions import service as question_service
from service.domain.rubrics import service as rubric_service
from service.domain.rubrics.service import GraderCache
from service.domain.submissions import release
from service.domain.submissions.repository import SubmissionRepository
from service.domain.submissions.schemas import SubmissionCreate, SubmissionFilter
from service.errors import DomainError, NotFound
from service.scoring import ENGINE_VERSION, ScoreBreakdown

log = logging.getLogger(__name__)

FEEDBACK_TOKEN_BYTES = 32


class InvalidCursor(DomainError):
    status_code = 422
    code = "invalid_cursor"
    title = "Invalid cursor"


class FeedbackLinkExpired(DomainError):
    status_code = 410
    code = "feedback_link_expired"
    title = "Feedback link expired"


# Key of the plain token in the ORM instance's ``info``: it lives only as long as the
# instance of the request that issued it, so only that response can show the link.
_ISSUED_TOKEN = "issued_feedback_token"


def new_feedback_token() -> str:
    """256 random bits, URL-safe: the student's feedback URL is its own credential."""
    return secrets.token_urlsafe(FEEDBACK_TOKEN_BYTES)


def hash_feedback_token(token: str) -> str:
    """What the database keeps: a leaked table (or backup) opens no student's feedback."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_feedback_link(submission: Submission) -> str:
    """A new token for ``submission``, replacing (and so revoking) any earlier one."""
    token = new_feedback_token()
    submission.feedback_token_hash = hash_feedback_token(token)
    submission.feedback_token_issued_at = utcnow()
    inspect(submission).info[_ISSUED_TOKEN] = token
    return token


def issued_feedback_token(submission: Submission) -> str | None:
    """The plain token, only on the instance that issued it in this request."""
    token = inspect(submission).info.get(_ISSUED_TOKEN)
    return token if isinstance(token, str) else None


def feedback_link_expires_at(submission: Submission, ttl_days: float | None) -> datetime | None:
    if ttl_days is None or submission.feedback_token_issued_at is None:
        return None
    return submission.feedback_token_issued_at + timedelta(days=ttl_days)


def revoke_feedback_link(session: Session, submission: Submission) -> None:
    """The link stops working at once (404, like any unknown link)."""
    submission.feedback_token_hash = None
    submission.feedback_token_issued_at = None
    inspect(submission).info.pop(_ISSUED_TOKEN, None)
    session.flush()


def reissue_feedback_link(session: Session, submission: Submission) -> str:
    """A new link for ``submission``; the old one stops working."""
    token = issue_feedback_link(submission)
    session.flush()
    return token


def create_submission(
    session: Session,
    *,
    graders: GraderCache,
    body: SubmissionCreate,
    principal: Principal,
) -> Submission:
    """Store the answer with its score, in one INSERT of each row.

    The question is looked up in the caller's organisation (an integration posts to any of
    its organisation's questions). If scoring fails the answer is still stored, with status
    ``pending``, and is scored later instead of being lost (grading is pure: a failure there
    touches no database state).
    """
    question = question_service.get_question(
        session, Scope.organization(principal.organization_id), body.question_id
    )
    submission = Submission(
        id=uuid.uuid4(),
        question=question,
        organization_id=question.organization_id,
        course_id=question.course_id,
        learner_id=body.learner_id,
        answer=body.answer,
        status="pending",
        api_key_id=principal.key_id,
        results=[],
    )
    issue_feedback_link(submission)
    SubmissionRepository(session, principal.submission_scope).add(submission)
    if score_submission(session, submission, question=question, graders=graders) is None:
        session.flush()
    observability.count_submission()
    return submission


def score_submission(
    session: Session,
    submission: Submission,
    *,
    question: Question,
    graders: GraderCache,
    version: RubricVersion | None = None,
    event: str = "submission.scored",
    flush: bool = True,
) -> GradingResult | None:
    """Add a machine result with ``version`` (default: the question's current rubric).

    Returns None, leaving the submission as it was, if the engine fails: the answer is
    never lost to a scoring fault. An instructor's override is never replaced.

    ``flush=False`` (a batch that commits many results at once) leaves writing the result
    to the caller's flush or commit, unless a callback is queued: its payload shows the
    stored result, so it is flushed first, as always.
    """
    version = version or rubric_service.current_version(session, question)
    started = time.perf_counter()
    try:
        breakdown = graders.get(version).grade(submission.answer)
    except Exception:
        observability.observe_scoring(time.perf_counter() - started, failed=True)
        log.exception(
            "scoring failed for submission %s; left as %s", submission.id, submission.status
        )
        return None
    observability.observe_scoring(time.perf_counter() - started)
    result = _result_row(breakdown, version=version)
    submission.results.insert(0, result)  # kept newest first, like the relationship's order
    submission.status = "scored"
    submission.machine_points = breakdown.points
    submission.max_points = breakdown.max_points
    if not submission.is_overridden:
        submission.points = breakdown.points
        submission.needs_review = breakdown.needs_review
    has_callback = _has_callback(session, submission)
    if flush or has_callback:
        session.flush()
    if has_callback:
        callback_service.enqueue(
            session, submission, event=event, payload=callback_payload(submission)
        )
    log.info(
        "scored submission %s question=%s points=%s engine=%s duration_ms=%.2f",
        submission.id,
        question.slug,
        breakdown.points,
        ENGINE_VERSION,
        (time.perf_counter() - started) * 1000,
    )
    return result


def _has_callback(session: Session, submission: Submission) -> bool:
    """Whether ``callback_service.enqueue`` would queue a delivery for ``submission``."""
    if submission.api_key_id is None:
        return False
    owner = session.get(ApiKey, submission.api_key_id)
    return owner is not None and owner.is_active and bool(owner.callback_url)


def callback_payload(submission: Submission) -> dict[str, Any]:
    # Imported here: presenters import this module's types for the response shape.
    from service.domain.submissions.presenters import present_submission

    # The receiver is an integration: the student-safe view, and before release only that
    # the answer arrived.
    shown = release.shows_results(submission.question, principal=None, now=utcnow())
    return present_submission(submission, full=False, released=shown).model_dump(
        mode="json", exclude={"feedback_url"}
    )


def _result_row(breakdown: ScoreBreakdown, *, version: RubricVersion) -> GradingResult:
    result = GradingResult(**result_values(breakdown, version=version))
    result.rubric_version = version
    return result


def result_values(breakdown: ScoreBreakdown, *, version: RubricVersion) -> dict[str, Any]:
    """The columns of a ``GradingResult`` row (shared by the ORM and the bulk rescore path)."""
    return {
        "rubric_version_id": version.id,
        "engine_version": ENGINE_VERSION,
        "points": breakdown.points,
        "max_points": breakdown.max_points,
        "score": breakdown.score,
        "keyword_coverage": breakdown.keyword_coverage,
        "similarity": breakdown.similarity,
        "model": breakdown.model,
        "confidence": breakdown.confidence,
        "needs_review": breakdown.needs_review,
        "advisories": [advisory.code for advisory in breakdown.advisories],
        "details": {
            "raw": breakdown.raw,
            "summary": breakdown.summary,
            "weights": version.content.get("weights", {}),
            "components": dict(breakdown.components),
            "neighbour_score": breakdown.neighbour_score,
            "advisories": [
                {"code": a.code, "message": a.message, "cap": a.cap} for a in breakdown.advisories
            ],
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
    }


def score_pending(session: Session, *, graders: GraderCache, limit: int = 1000) -> int:
    """Score submissions left pending by an earlier failure; returns how many succeeded."""
    repo = SubmissionRepository(session, Scope.system())
    scored = 0
    for submission_id in repo.list_pending_ids(limit):
        submission = repo.get(submission_id)
        if submission is None or submission.status != "pending":
            continue
        question = question_service.get_by_internal_id(session, submission.question_id)
        scored += (
            score_submission(session, submission, question=question, graders=graders) is not None
        )
    return scored


def get_submission(session: Session, submission_id: uuid.UUID, *, scope: Scope) -> Submission:
    """One submission within ``scope``; outside it, it looks like it does not exist."""
    submission = SubmissionRepository(session, scope).get(submission_id)
    if submission is None:
        raise NotFound(f"No submission with id {submission_id}.")
    return submission


def get_by_feedback_token(
    session: Session, token: str, *, ttl_days: float | None = None, now: datetime | None = None
) -> Submission:
    """The link is the student's credential: it names one submission, whoever asks.

    Looked up by hash. A revoked link is unknown (404); one older than ``ttl_days`` is 410,
    so the student knows to ask for a new one rather than to check the address."""
    repo = SubmissionRepository(session, Scope.system())
    submission = repo.get_by_feedback_token(hash_feedback_token(token))
    if submission is None:
        raise NotFound("No feedback at this address; check the link you were given.")
    expires_at = feedback_link_expires_at(submission, ttl_days)
    if expires_at is not None and expires_at <= (now or utcnow()):
        raise FeedbackLinkExpired(
            "This feedback link has expired; ask your instructor or your course for a new one."
        )
    return submission


@dataclass(frozen=True)
class Page:
    items: Sequence[Submission]
    next_cursor: str | None


def list_submissions(
    session: Session,
    *,
    filters: SubmissionFilter,
    cursor: str | None,
    limit: int,
    scope: Scope,
) -> Page:
    after = decode_cursor(cursor, filters.sort) if cursor else None
    rows = SubmissionRepository(session, scope).list_page(filters, after=after, limit=limit + 1)
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1], filters.sort) if len(rows) > limit else None
    return Page(items=items, next_cursor=next_cursor)


def encode_cursor(submission: Submission, sort: str) -> str:
    """Opaque keyset cursor: the sort key of the last row on the page, and the sort."""
    key: list[Any] = [sort, submission.created_at.isoformat(), str(submission.id)]
    if sort.lstrip("-") == "points":
        key.append(submission.points)
    payload = json.dumps(key)
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[datetime, uuid.UUID, float | None]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(values, list) or values[0] != sort:
            raise ValueError("cursor from another sort order")
        moment = datetime.fromisoformat(values[1])
        if moment.tzinfo is None:
            raise ValueError("naive timestamp")
        points = float(values[3]) if len(values) > 3 and values[3] is not None else None
        return moment, uuid.UUID(values[2]), points
    except (ValueError, TypeError, IndexError, binascii.Error) as exc:
        raise InvalidCursor(
            "The cursor is not valid for this listing; pass the next_cursor value of the "
            "previous page unchanged, with the same filters and sort."
        ) from exc
