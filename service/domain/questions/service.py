from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from service.db.base import utcnow
from service.db.models import Question
from service.domain.access.principal import Principal, Scope
from service.domain.organizations import service as organization_service
from service.domain.questions.repository import QuestionRepository, SubmissionContext
from service.domain.questions.schemas import QuestionPublicRead, QuestionRead
from service.domain.rubrics import service as rubric_service
from service.domain.rubrics.service import ImportOutcome
from service.domain.submissions import release
from service.errors import NotFound, UnprocessableRequest


def list_questions(session: Session, scope: Scope) -> Sequence[Question]:
    return QuestionRepository(session, scope).list_all()


def get_question(session: Session, scope: Scope, question_id: str) -> Question:
    """The question ``question_id`` (its slug) within ``scope``; outside it, ``NotFound``."""
    question = QuestionRepository(session, scope).get_by_slug(question_id)
    if question is None:
        raise NotFound(f"No question with id {question_id!r}.")
    return question


def get_for_submission(
    session: Session, scope: Scope, question_id: str, *, api_key_id: uuid.UUID | None
) -> SubmissionContext:
    """The question ``question_id`` within ``scope``, its current rubric version, the
    posting key's row (None without one) and its groups' staleness, read together; outside
    the scope, ``NotFound``."""
    found = QuestionRepository(session, scope).get_for_submission(question_id, api_key_id)
    if found is None:
        raise NotFound(f"No question with id {question_id!r}.")
    return found


def get_by_internal_id(session: Session, question_id: str) -> Question:
    """For background work that holds a question's internal id (system scope)."""
    question = QuestionRepository(session, Scope.system()).get(question_id)
    if question is None:
        raise NotFound(f"No question with internal id {question_id!r}.")
    return question


def present_question(question: Question, *, full: bool) -> QuestionRead | QuestionPublicRead:
    """Staff see the course and rubric version; integrations only what an LMS shows."""
    public = QuestionPublicRead(
        id=question.slug,
        title=question.title,
        prompt=question.prompt,
        max_points=question.max_points,
        score_step=question.score_step,
    )
    if not full:
        return public
    return QuestionRead(
        **public.model_dump(),
        course_id=question.course.slug,
        rubric_version=question.rubric_version,
        feedback_release=release.present_release(question, utcnow()),
    )


def create_question(session: Session, principal: Principal, body: dict[str, Any]) -> ImportOutcome:
    """A new question in the course the body names (``course_id``), else the caller's only
    course or the organisation's default course; the rest of the body is the rubric."""
    data = dict(body)
    course_slug = data.pop("course_id", None)
    if course_slug is not None and not isinstance(course_slug, str):
        raise UnprocessableRequest("course_id must be a string: the id of one of your courses.")
    course = organization_service.resolve_course(session, principal, course_slug)
    return rubric_service.create_question(session, data, course=course)
