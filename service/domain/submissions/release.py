"""When students and integrations see a score and its reasons: the question's feedback
release, after Moodle's review options.

- ``immediately`` (the default): as soon as the answer is scored.
- ``after_close``: from the question's close time (``feedback_close_at``) on.
- ``manual``: only once an instructor releases it.

An instructor's "release now" (``feedback_released_at``) releases in every mode. Until
release, a student's link and an integration's responses and callbacks say only that the
answer was received: no points (Moodle hides marks too, and a number without reasons
invites guessing at them) and no feedback. Staff (instructors, admins) always see
everything. This module is the only place that rule is written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.db.base import utcnow
from service.db.models import Question
from service.domain.access.principal import Principal
from service.domain.questions.schemas import FeedbackReleaseRead
from service.errors import DomainError


class ReleaseMode(StrEnum):
    IMMEDIATELY = "immediately"
    AFTER_CLOSE = "after_close"
    MANUAL = "manual"


class InvalidRelease(DomainError):
    status_code = 422
    code = "invalid_feedback_release"
    title = "Invalid feedback release"


def is_released(question: Question, now: datetime) -> bool:
    """Whether students and integrations may see scores and feedback of ``question``."""
    if question.feedback_released_at is not None and question.feedback_released_at <= now:
        return True
    mode = ReleaseMode(question.feedback_release)
    if mode is ReleaseMode.IMMEDIATELY:
        return True
    if mode is ReleaseMode.AFTER_CLOSE:
        return question.feedback_close_at is not None and question.feedback_close_at <= now
    return False


def shows_results(question: Question, *, principal: Principal | None, now: datetime) -> bool:
    """Whether this caller sees points and feedback: staff always; students (no principal)
    and integrations once the question has released them."""
    if principal is not None and principal.is_staff:
        return True
    return is_released(question, now)


def available_at(question: Question) -> datetime | None:
    """When unreleased feedback becomes available, if that is known (a close time)."""
    if ReleaseMode(question.feedback_release) is ReleaseMode.AFTER_CLOSE:
        return question.feedback_close_at
    return None


def withheld_message(question: Question) -> str:
    """What a student or integration is told instead of the score, before release."""
    when = available_at(question)
    if when is not None:
        return (
            "Your answer has been received. Your score and feedback will be available from "
            f"{when.isoformat()}."
        )
    return (
        "Your answer has been received. Your score and feedback will be available when your "
        "instructor releases them; check this link again later."
    )


def set_release(
    session: Session, question: Question, *, mode: ReleaseMode, close_at: datetime | None
) -> Question:
    """Choose the release mode. A close time belongs to ``after_close`` only; a new choice
    withdraws an earlier "release now", so switching to ``manual`` hides feedback again."""
    if mode is ReleaseMode.AFTER_CLOSE and close_at is None:
        raise InvalidRelease("close_at is required when mode is 'after_close'.", field="close_at")
    if mode is not ReleaseMode.AFTER_CLOSE and close_at is not None:
        raise InvalidRelease(
            f"close_at is only used with mode 'after_close', not {mode.value!r}.",
            field="close_at",
        )
    question.feedback_release = mode.value
    # Stored and shown in UTC, the same whether read back now or from the database.
    question.feedback_close_at = close_at.astimezone(UTC) if close_at is not None else None
    question.feedback_released_at = None
    session.flush()
    _gradebooks_changed(session, question)
    return question


def release_now(session: Session, question: Question) -> Question:
    """Release the question's feedback to students and integrations from now on."""
    if question.feedback_released_at is None:
        question.feedback_released_at = utcnow()
        session.flush()
        _gradebooks_changed(session, question)
    return question


def _gradebooks_changed(session: Session, question: Question) -> None:
    """LMS gradebooks (LTI) show a score only once it is released: post them again."""
    # Imported here: the outbox reads this module's rule to build each score.
    from service.domain.callbacks.service import repost_question_scores

    repost_question_scores(session, question.id)
    question.gradebook_synced_at = utcnow()


def sync_closed_gradebooks(session: Session, now: datetime, *, limit: int = 20) -> int:
    """Questions whose close time passed since their gradebooks were last posted (the
    ``after_close`` mode releases by the clock, with no request to hang it on): the worker
    posts their scores again."""
    stmt = (
        select(Question)
        .where(
            Question.feedback_release == ReleaseMode.AFTER_CLOSE.value,
            Question.feedback_close_at <= now,
            or_(
                Question.gradebook_synced_at.is_(None),
                Question.gradebook_synced_at < Question.feedback_close_at,
            ),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    questions = list(session.scalars(stmt))
    for question in questions:
        _gradebooks_changed(session, question)
    return len(questions)


def present_release(question: Question, now: datetime) -> FeedbackReleaseRead:
    return FeedbackReleaseRead(
        mode=ReleaseMode(question.feedback_release).value,
        close_at=question.feedback_close_at,
        released_at=question.feedback_released_at,
        released=is_released(question, now),
    )
