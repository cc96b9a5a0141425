"""SQL of answer groups. Every repository takes the caller's scope: a group outside it is
not found."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import Session

from service.db.models import (
    AnswerGroup,
    AnswerGroupMember,
    GradingResult,
    GroupingState,
    Question,
    RubricVersion,
    Submission,
)
from service.domain.access.principal import Scope
from service.domain.access.sql import scope_conditions

# A grouping is marked stale at most once per this interval per question, so a class
# posting many answers at once does not queue its transactions behind one row's lock.
MARK_INTERVAL = timedelta(seconds=1)


def needs_mark(*, grouped: bool, stale_at: datetime | None, now: datetime) -> bool:
    """Whether ``mark_stale`` would change the grouping row read as ``grouped``/``stale_at``
    (its WHERE clause, in Python): a caller that read the row can skip the UPDATE, and with
    it the wait on the row's lock behind every other answer of the class. Skipping is safe
    because a mark newer than MARK_INTERVAL is never cleared by a computation (SETTLE)."""
    return grouped and (stale_at is None or stale_at < now - MARK_INTERVAL)


def mark_stale(session: Session, question_id: str, *, now: datetime) -> None:
    """Note that the question's answers changed (one UPDATE, in the caller's transaction;
    no row when the groups were never computed, which is stale anyway)."""
    session.execute(
        update(GroupingState)
        .where(
            GroupingState.question_id == question_id,
            or_(GroupingState.stale_at.is_(None), GroupingState.stale_at < now - MARK_INTERVAL),
        )
        .values(stale_at=now)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class GroupableAnswer:
    """A scored answer and the criteria its newest result met."""

    submission_id: uuid.UUID
    answer: str
    criteria_met: frozenset[str]


@dataclass(frozen=True)
class GroupTotals:
    size: int
    overridden: int
    min_points: float | None
    max_points: float | None


@dataclass(frozen=True)
class MemberRow:
    member: AnswerGroupMember
    learner_id: str
    answer: str
    points: float | None
    machine_points: float | None
    is_overridden: bool


class GroupingRepository:
    """A question's groups and members, within ``scope`` (organisation and courses)."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    def _groups_in_scope(self) -> list[ColumnElement[bool]]:
        return scope_conditions(
            self.scope, organization=AnswerGroup.organization_id, course=AnswerGroup.course_id
        )

    def state(self, question: Question, *, lock: bool = False) -> GroupingState | None:
        stmt = select(GroupingState).where(
            GroupingState.question_id == question.id,
            *scope_conditions(
                self.scope,
                organization=GroupingState.organization_id,
                course=GroupingState.course_id,
            ),
        )
        if lock:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def add(self, obj: GroupingState | AnswerGroup | AnswerGroupMember) -> None:
        self.session.add(obj)

    def stale_question_ids(self, limit: int, *, settled_before: datetime) -> list[str]:
        """Questions whose groups are out of date: marked stale before ``settled_before``,
        or computed with another rubric version than the question's current one."""
        current_version = (
            select(RubricVersion.id)
            .where(
                RubricVersion.question_id == Question.id,
                RubricVersion.version == Question.rubric_version,
            )
            .scalar_subquery()
        )
        stmt = (
            select(GroupingState.question_id)
            .join(Question, Question.id == GroupingState.question_id)
            .where(
                or_(
                    GroupingState.stale_at <= settled_before,
                    GroupingState.rubric_version_id != current_version,
                ),
                *scope_conditions(
                    self.scope,
                    organization=GroupingState.organization_id,
                    course=GroupingState.course_id,
                ),
            )
            .order_by(GroupingState.stale_at, GroupingState.question_id)
            .limit(limit)
        )
        return list(self.session.scalars(stmt).all())

    def newest_scored(self, question: Question, limit: int) -> list[GroupableAnswer]:
        """The question's ``limit`` newest scored answers, oldest first, with the criteria
        their newest result met (the criteria as the result recorded them)."""
        newest = (
            select(Submission.id, Submission.answer, Submission.created_at)
            .where(Submission.question_id == question.id, Submission.status == "scored")
            .order_by(Submission.created_at.desc(), Submission.id.desc())
            .limit(limit)
            .subquery()
        )
        latest = (
            select(func.max(GradingResult.id).label("result_id"), GradingResult.submission_id)
            .where(GradingResult.submission_id.in_(select(newest.c.id)))
            .group_by(GradingResult.submission_id)
            .subquery()
        )
        rows = self.session.execute(
            select(newest.c.id, newest.c.answer, GradingResult.details)
            .join(latest, latest.c.submission_id == newest.c.id)
            .join(GradingResult, GradingResult.id == latest.c.result_id)
            .order_by(newest.c.created_at, newest.c.id)
        ).all()
        return [
            GroupableAnswer(submission_id, answer, _met(details))
            for submission_id, answer, details in rows
        ]

    def count_scored(self, question: Question) -> int:
        """Scored answers of the question (what a computation would group, before the cap)."""
        stmt = select(func.count()).where(
            Submission.question_id == question.id, Submission.status == "scored"
        )
        return int(self.session.scalar(stmt) or 0)

    def groups(self, question: Question) -> Sequence[AnswerGroup]:
        stmt = (
            select(AnswerGroup)
            .where(AnswerGroup.question_id == question.id, *self._groups_in_scope())
            .order_by(AnswerGroup.position, AnswerGroup.id)
        )
        return self.session.scalars(stmt).all()

    def groups_page(self, question: Question, *, after: int, limit: int) -> Sequence[AnswerGroup]:
        stmt = (
            select(AnswerGroup)
            .where(
                AnswerGroup.question_id == question.id,
                AnswerGroup.position > after,
                *self._groups_in_scope(),
            )
            .order_by(AnswerGroup.position, AnswerGroup.id)
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    def count_groups(self, question: Question) -> int:
        stmt = select(func.count()).where(
            AnswerGroup.question_id == question.id, *self._groups_in_scope()
        )
        return int(self.session.scalar(stmt) or 0)

    def get_group(self, question: Question, group_id: uuid.UUID) -> AnswerGroup | None:
        stmt = select(AnswerGroup).where(
            AnswerGroup.id == group_id,
            AnswerGroup.question_id == question.id,
            *self._groups_in_scope(),
        )
        return self.session.scalars(stmt).first()

    def members_of_question(self, question: Question) -> Sequence[AnswerGroupMember]:
        stmt = select(AnswerGroupMember).where(AnswerGroupMember.question_id == question.id)
        return self.session.scalars(stmt).all()

    def members(self, group: AnswerGroup, *, limit: int | None = None) -> list[MemberRow]:
        """A group's members in input order (oldest answer first), with their scores."""
        stmt = (
            select(
                AnswerGroupMember,
                Submission.learner_id,
                Submission.answer,
                Submission.points,
                Submission.machine_points,
                Submission.is_overridden,
            )
            .join(Submission, Submission.id == AnswerGroupMember.submission_id)
            .where(AnswerGroupMember.group_id == group.id)
            .order_by(AnswerGroupMember.rank, AnswerGroupMember.submission_id)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return [MemberRow(*row) for row in self.session.execute(stmt).all()]

    def members_by_submission(
        self, question: Question, submission_ids: Sequence[uuid.UUID]
    ) -> Sequence[AnswerGroupMember]:
        stmt = select(AnswerGroupMember).where(
            AnswerGroupMember.question_id == question.id,
            AnswerGroupMember.submission_id.in_(list(submission_ids)),
        )
        return self.session.scalars(stmt).all()

    def member_submission_ids(self, group: AnswerGroup) -> list[uuid.UUID]:
        stmt = (
            select(AnswerGroupMember.submission_id)
            .where(AnswerGroupMember.group_id == group.id)
            .order_by(AnswerGroupMember.rank, AnswerGroupMember.submission_id)
        )
        return list(self.session.scalars(stmt).all())

    def totals(self, group_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, GroupTotals]:
        """Size, overridden members and machine score range per group, by the database."""
        if not group_ids:
            return {}
        rows = self.session.execute(
            select(
                AnswerGroupMember.group_id,
                func.count(),
                func.count().filter(Submission.is_overridden.is_(True)),
                func.min(Submission.machine_points),
                func.max(Submission.machine_points),
            )
            .join(Submission, Submission.id == AnswerGroupMember.submission_id)
            .where(AnswerGroupMember.group_id.in_(list(group_ids)))
            .group_by(AnswerGroupMember.group_id)
        ).all()
        return {
            group_id: GroupTotals(int(size), int(overridden), low, high)
            for group_id, size, overridden, low, high in rows
        }

    def criteria_of(self, group_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[list[str]]]:
        """Each group's members' met criteria (bounded: a question has at most the
        estimator's MAX_ANSWERS grouped answers)."""
        if not group_ids:
            return {}
        found: dict[uuid.UUID, list[list[str]]] = {}
        rows = self.session.execute(
            select(AnswerGroupMember.group_id, AnswerGroupMember.criteria_met).where(
                AnswerGroupMember.group_id.in_(list(group_ids))
            )
        ).all()
        for group_id, met in rows:
            found.setdefault(group_id, []).append(list(met or []))
        return found

    def criteria_met_of(self, submission_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        if not submission_ids:
            return {}
        rows = self.session.execute(
            select(AnswerGroupMember.submission_id, AnswerGroupMember.criteria_met).where(
                AnswerGroupMember.submission_id.in_(list(submission_ids))
            )
        ).all()
        return {submission_id: list(met or []) for submission_id, met in rows}

    def answers_of(self, submission_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not submission_ids:
            return {}
        rows = self.session.execute(
            select(Submission.id, Submission.answer).where(Submission.id.in_(list(submission_ids)))
        ).all()
        return {row[0]: row[1] for row in rows}

    def delete_members(self, question: Question, *, pinned: bool) -> None:
        self.session.execute(
            delete(AnswerGroupMember)
            .where(
                AnswerGroupMember.question_id == question.id,
                AnswerGroupMember.is_pinned.is_(pinned),
            )
            .execution_options(synchronize_session=False)
        )

    def delete_groups(self, group_ids: Sequence[uuid.UUID]) -> None:
        if group_ids:
            self.session.execute(
                delete(AnswerGroup)
                .where(AnswerGroup.id.in_(list(group_ids)))
                .execution_options(synchronize_session=False)
            )

    def delete_empty_groups(self, question: Question) -> None:
        has_members = select(AnswerGroupMember.submission_id).where(
            AnswerGroupMember.group_id == AnswerGroup.id
        )
        self.session.execute(
            delete(AnswerGroup)
            .where(AnswerGroup.question_id == question.id, ~has_members.exists())
            .execution_options(synchronize_session=False)
        )


def _met(details: Any) -> frozenset[str]:
    criteria = details.get("criteria", []) if isinstance(details, dict) else []
    return frozenset(str(c["id"]) for c in criteria if isinstance(c, dict) and c.get("met"))
