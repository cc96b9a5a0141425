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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from service import observability
from service.db.base import utcnow
from service.db.models import ApiKey, GradingResult, Question, RubricVersion, Submission
from service.db.session import (
    begin_read_phase,
    end_read_phase,
    session_scope,
)
from service.domain.access.principal import Principal, Scope
from service.domain.callbacks import service as callback_service
from service.domain.grouping import repository as grouping_repository
from service.domain.idempotency import service as idempotency
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


@dataclass(frozen=True)
class ScoringPolicy:
    """Retries of a failed scoring: after attempt n fails, the next one waits
    ``base_delay_seconds * 2 ** (n - 1)``; after ``max_attempts`` the submission is ``error``."""

    max_attempts: int = 5
    base_delay_seconds: float = 30.0

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=self.base_delay_seconds * 2 ** max(attempts - 1, 0))


# Shown to instructors (and the integration that posted it) once retries gave up: short,
# and safe to show; the traceback goes to the log only.
SCORING_ERROR = "The rubric could not score this answer (engine error)."


@dataclass(frozen=True)
class PreparedSubmission:
    """An answer graded before anything is written (``breakdown`` None: the engine failed)."""

    question: Question
    version: RubricVersion
    breakdown: ScoreBreakdown | None
    # The posting key's row, read with the question (held here so that the callback check
    # finds it in the session instead of reading it again); None without a key.
    poster: ApiKey | None = None
    # False when the question's groups are known to be marked stale already.
    mark_groups: bool = True


def prepare_submission(
    session: Session, *, graders: GraderCache, body: SubmissionCreate, principal: Principal
) -> PreparedSubmission:
    """Look the question up and grade the answer, holding no transaction while grading.

    The question is looked up in the caller's organisation (an integration posts to any of
    its organisation's questions), with its current rubric version and the posting key, in
    one statement of a transaction that takes no lock (``begin_read_phase``). It ends before
    the engine runs, so no lock (SQLite's one write lock) and no pooled connection is held
    while scoring: on PostgreSQL, keeping the transaction open across scoring saved two round
    trips but held connections long enough under 32 clients to open and close overflow
    connections, 54% vs 72% of the bare endpoint (docs/performance.md). A rubric saved in
    between makes this answer count as sent just before the save, scored by the version it
    met.
    """
    begin_read_phase(session)
    context = question_service.get_for_submission(
        session,
        Scope.organization(principal.organization_id),
        body.question_id,
        api_key_id=principal.api_key_id,
    )
    mark_groups = grouping_repository.needs_mark(
        grouped=context.grouped, stale_at=context.groups_stale_at, now=utcnow()
    )
    end_read_phase(session)
    question, version = context.question, context.version
    breakdown = grade_answer(graders, version, body.answer, label=question.slug)
    return PreparedSubmission(question, version, breakdown, context.poster, mark_groups)


def create_submission(
    session: Session,
    *,
    graders: GraderCache,
    body: SubmissionCreate,
    principal: Principal,
    prepared: PreparedSubmission | None = None,
    policy: ScoringPolicy | None = None,
    lti_resource_link_id: uuid.UUID | None = None,
) -> Submission:
    """Store the answer with its score, in one INSERT of each row.

    ``prepared`` is the answer graded by ``prepare_submission`` before the caller's first
    write (without it the answer is graded here). If scoring failed the answer is still
    stored, with status ``pending``, and the worker retries it with backoff (``policy``)
    instead of it being lost (grading is pure: a failure there touches no database state).
    """
    if prepared is None:
        prepared = prepare_submission(session, graders=graders, body=body, principal=principal)
    question = prepared.question
    submission = Submission(
        id=uuid.uuid4(),
        question=question,
        organization_id=question.organization_id,
        course_id=question.course_id,
        learner_id=body.learner_id,
        answer=body.answer,
        status="pending",
        api_key_id=principal.api_key_id,
        lti_resource_link_id=lti_resource_link_id,
        scoring_attempts=1,
        results=[],
    )
    issue_feedback_link(submission)
    SubmissionRepository(session, principal.submission_scope).add(submission)
    if prepared.breakdown is None:
        submission.next_scoring_at = utcnow() + (policy or ScoringPolicy()).delay(1)
        session.flush()
    else:
        apply_score(
            session,
            submission,
            prepared.breakdown,
            question=question,
            version=prepared.version,
            mark_groups=prepared.mark_groups,
        )
    observability.count_submission()
    return submission


def idempotency_owner(principal: Principal) -> uuid.UUID:
    """The api_key row a caller's idempotency records belong to (its own key)."""
    if principal.api_key_id is None:
        raise NotFound("No such API key.")
    return principal.api_key_id


def submit_once(
    session: Session,
    *,
    graders: GraderCache,
    body: SubmissionCreate,
    principal: Principal,
    policy: ScoringPolicy,
    idempotency_key: str | None,
    request_hash: str,
    ttl: timedelta,
    render: Callable[[Submission], bytes],
) -> idempotency.Outcome:
    """Store and score one answer, once per ``idempotency_key``: the response (``render``
    of the stored submission) and its status, or the replay of the first one.

    The statements, in order: the idempotency record looked up and the question read with
    its rubric and the posting key (the read phase, no lock), then the submission, its
    result and the record written (the write phase); see docs/performance.md.
    """
    attempt: idempotency.Attempt | None = None
    if idempotency_key is not None:
        # A retry is answered from its record before any other work.
        begin_read_phase(session)
        started = idempotency.start(
            session,
            owner_id=idempotency_owner(principal),
            key=idempotency_key,
            request_hash=request_hash,
            ttl=ttl,
        )
        if isinstance(started, idempotency.Outcome):
            return started
        attempt = started
    # Graded before the first write, so that on SQLite no write lock is held while the
    # engine runs.
    prepared = prepare_submission(session, graders=graders, body=body, principal=principal)
    submission = create_submission(
        session, graders=graders, body=body, principal=principal, prepared=prepared, policy=policy
    )
    status = 201 if submission.status == "scored" else 202
    content = render(submission)
    if attempt is None:
        return idempotency.Outcome(status, content, replayed=False)
    return attempt.complete(status, content, [str(submission.id)])


def grade_answer(
    graders: GraderCache, version: RubricVersion, answer: str, *, label: str
) -> ScoreBreakdown | None:
    """The engine's breakdown, or None if it failed (logged with its traceback)."""
    started = time.perf_counter()
    try:
        breakdown = graders.get(version).grade(answer)
    except Exception:
        observability.observe_scoring(time.perf_counter() - started, failed=True)
        log.exception("scoring failed (question=%s, rubric version %s)", label, version.id)
        return None
    observability.observe_scoring(time.perf_counter() - started)
    return breakdown


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
    breakdown = grade_answer(graders, version, submission.answer, label=question.slug)
    if breakdown is None:
        log.warning("submission %s left as %s", submission.id, submission.status)
        return None
    return apply_score(
        session, submission, breakdown, question=question, version=version, event=event, flush=flush
    )


def apply_score(
    session: Session,
    submission: Submission,
    breakdown: ScoreBreakdown,
    *,
    question: Question,
    version: RubricVersion,
    event: str = "submission.scored",
    flush: bool = True,
    mark_groups: bool = True,
) -> GradingResult:
    """Store ``breakdown`` as the submission's newest machine result (see score_submission).

    ``mark_groups=False``: the caller read the question's groups as marked already."""
    result = _result_row(breakdown, version=version)
    submission.results.insert(0, result)  # kept newest first, like the relationship's order
    submission.status = "scored"
    submission.next_scoring_at = None
    submission.scoring_error = None
    submission.machine_points = breakdown.points
    submission.max_points = breakdown.max_points
    if not submission.is_overridden:
        submission.points = breakdown.points
        submission.needs_review = breakdown.needs_review
    # The question's answer groups are out of date now (one UPDATE; the worker or the
    # groups page recomputes them). No autoflush: a batch writes its results at once.
    if mark_groups:
        with session.no_autoflush:
            grouping_repository.mark_stale(session, question.id, now=utcnow())
    has_callback = _has_callback(session, submission)
    to_gradebook = submission.lti_resource_link_id is not None
    if flush or has_callback or to_gradebook:
        session.flush()
    if has_callback:
        callback_service.enqueue(
            session, submission, event=event, payload=callback_payload(submission)
        )
    if to_gradebook:
        callback_service.enqueue_lti_score(session, submission)
    log.info(
        "scored submission %s question=%s points=%s engine=%s",
        submission.id,
        question.slug,
        breakdown.points,
        ENGINE_VERSION,
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


@dataclass(frozen=True)
class RetryOutcome:
    scored: int = 0
    failed: int = 0
    gave_up: int = 0

    @property
    def tried(self) -> int:
        return self.scored + self.failed + self.gave_up


def retry_pending(
    factory: sessionmaker[Session],
    *,
    graders: GraderCache,
    policy: ScoringPolicy,
    limit: int = 100,
    ignore_backoff: bool = False,
) -> RetryOutcome:
    """Score again the pending submissions that are due; returns what happened.

    Each is claimed first (its attempt counted, its next try moved out by the backoff, in one
    short transaction), so several workers never try the same one at once and a worker that
    dies mid-way leaves it due again later. Then each is graded outside any transaction and
    stored in its own. ``ignore_backoff`` (start-up) tries every pending one now: a restart
    usually comes with a fix.
    """
    now = utcnow()
    with session_scope(factory) as session:
        claimed = SubmissionRepository(session, Scope.system()).claim_due_pending(
            now=now, limit=limit, ignore_backoff=ignore_backoff
        )
        for submission in claimed:
            submission.scoring_attempts += 1
            submission.next_scoring_at = now + policy.delay(submission.scoring_attempts)
        ids = [submission.id for submission in claimed]
    outcomes = [_retry_one(factory, submission_id, graders, policy) for submission_id in ids]
    return RetryOutcome(
        scored=outcomes.count("scored"),
        failed=outcomes.count("failed"),
        gave_up=outcomes.count("error"),
    )


def _retry_one(
    factory: sessionmaker[Session],
    submission_id: uuid.UUID,
    graders: GraderCache,
    policy: ScoringPolicy,
) -> str | None:
    with session_scope(factory) as session:
        submission = SubmissionRepository(session, Scope.system()).get(submission_id)
        if submission is None or submission.status != "pending":
            return None
        question = question_service.get_by_internal_id(session, submission.question_id)
        version = rubric_service.current_version(session, question)
        end_read_phase(session)
        breakdown = grade_answer(graders, version, submission.answer, label=question.slug)
        # The write transaction starts here: re-read what may have changed while grading
        # (an instructor's override, another worker's result).
        session.refresh(submission, list(_RETRY_FIELDS), with_for_update=True)
        if submission.status != "pending":
            return None
        if breakdown is not None:
            apply_score(session, submission, breakdown, question=question, version=version)
            return "scored"
        if submission.scoring_attempts < policy.max_attempts:
            log.warning(
                "scoring submission %s failed (attempt %d of %d); next try at %s",
                submission.id,
                submission.scoring_attempts,
                policy.max_attempts,
                submission.next_scoring_at,
            )
            return "failed"
        submission.status = "error"
        submission.scoring_error = SCORING_ERROR
        submission.next_scoring_at = None
        log.error(
            "scoring submission %s failed %d times; left for hand grading",
            submission.id,
            submission.scoring_attempts,
        )
        return "error"


_RETRY_FIELDS = (
    "status",
    "is_overridden",
    "points",
    "needs_review",
    "scoring_attempts",
    "next_scoring_at",
)


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
