"""Answer groups: compute them, list them, grade a group, split and move members.

Groups are derived data: the estimator (``service.scoring.grouping``) clusters a question's
newest scored answers (their texts and the criteria their newest result met). A grouping
is marked stale when a machine result is stored (see ``repository.mark_stale``) or found
stale when the question's rubric version changed, and recomputed by the worker or when an
instructor opens the groups list. Members an instructor moved or split off are pinned:
recomputing leaves them where the instructor put them.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service.db.base import utcnow
from service.db.models import (
    AnswerGroup,
    AnswerGroupMember,
    GroupingState,
    Question,
    RubricVersion,
)
from service.db.session import session_scope
from service.domain.access.principal import Principal, Scope
from service.domain.grouping.repository import GroupableAnswer, GroupingRepository, MemberRow
from service.domain.grouping.schemas import (
    GroupCriterion,
    GroupDetail,
    GroupGrade,
    GroupGradeResult,
    GroupMemberRead,
    GroupMove,
    GroupPage,
    GroupRead,
    GroupRepresentative,
    GroupSplit,
)
from service.domain.questions import service as question_service
from service.domain.reviews import service as review_service
from service.domain.reviews.schemas import OverrideCreate
from service.domain.rubrics import service as rubric_service
from service.domain.submissions.service import InvalidCursor
from service.errors import NotFound, UnprocessableRequest
from service.scoring.grouping import MAX_ANSWERS, AnswerGrouping

log = logging.getLogger(__name__)

# A mark newer than this is left for a later computation: answers that arrived just
# before a computation read the answers may not have been visible to it yet. The worker
# waits as long after the last mark (a burst of answers is grouped once, when it settles).
SETTLE = timedelta(seconds=5)


class GroupMembersInvalid(UnprocessableRequest):
    code = "group_members_invalid"
    title = "Not members of this group"


# ---------------------------------------------------------------------------------------
# Computing the groups


def is_stale(state: GroupingState | None, version: RubricVersion) -> bool:
    return state is None or state.stale_at is not None or state.rubric_version_id != version.id


# The groups list recomputes stale groups itself up to this many answers (about two
# seconds of clustering); a larger question is left to the worker, and the list shows the
# groups it has, saying they are being brought up to date.
ON_DEMAND_MAX = 1000


def refresh_if_stale(
    session: Session, question: Question, scope: Scope
) -> tuple[GroupingState, bool]:
    """The question's grouping, recomputed first if answers or the rubric changed since and
    the work is small; else marked for the worker. The flag says the groups are out of date."""
    version = rubric_service.current_version(session, question)
    repo = GroupingRepository(session, scope)
    state = repo.state(question)
    if state is not None and not is_stale(state, version):
        return state, False
    if repo.count_scored(question) <= ON_DEMAND_MAX:
        return recompute(session, question, version=version), False
    if state is None:
        # Due for the worker at once (its mark is already "settled").
        state = _lock_state(session, repo, question, version, utcnow() - SETTLE)
        state.answers = 0
    session.flush()
    return state, True


def recompute(
    session: Session, question: Question, *, version: RubricVersion | None = None
) -> GroupingState:
    """Group the question's newest ``MAX_ANSWERS`` scored answers again (deterministic:
    the same answers, results and instructor moves give the same groups).

    The clustering runs before the grouping row is locked, so answers being stored are not
    kept waiting by it; the writes then happen under the lock, which serialises them with
    other computations, splits and moves of the question."""
    version = version or rubric_service.current_version(session, question)
    repo = GroupingRepository(session, Scope.system())
    started = utcnow()
    answers = repo.newest_scored(question, MAX_ANSWERS)
    criterion_ids = [str(c["id"]) for c in version.content.get("criteria", [])]
    labels, representatives = _cluster(answers, criterion_ids)
    state = _lock_state(session, repo, question, version, started)
    _Assignment(session, question, version, started).run(answers, labels, representatives)
    state.rubric_version_id = version.id
    state.answers = len(answers)
    state.computed_at = started
    if state.stale_at is not None and state.stale_at <= started - SETTLE:
        state.stale_at = None
    session.flush()
    log.info("grouped %d answers of question %s", len(answers), question.slug)
    return state


def _cluster(
    answers: list[GroupableAnswer], criterion_ids: list[str]
) -> tuple[list[int], list[int]]:
    if not answers:
        return [], []
    criteria = None
    if criterion_ids:
        criteria = np.array(
            [[1.0 if cid in a.criteria_met else 0.0 for cid in criterion_ids] for a in answers]
        )
    model = AnswerGrouping().fit([a.answer for a in answers], criteria)
    return [int(label) for label in model.labels_], [int(i) for i in model.representatives_]


def _lock_state(
    session: Session,
    repo: GroupingRepository,
    question: Question,
    version: RubricVersion,
    started: datetime,
) -> GroupingState:
    state = repo.state(question, lock=True)
    if state is not None:
        return state
    try:
        with session.begin_nested():
            # Answers stored while this first computation ran found no row to mark: the
            # row starts stale, so the worker looks once more after it settles.
            state = GroupingState(
                question_id=question.id,
                organization_id=question.organization_id,
                course_id=question.course_id,
                rubric_version_id=version.id,
                answers=0,
                computed_at=started,
                stale_at=started,
            )
            repo.add(state)
    except IntegrityError:  # another process created it first
        state = repo.state(question, lock=True)
        if state is None:
            raise
    return state


@dataclass
class _Draft:
    """A group as this computation leaves it: its members as (rank, submission id)."""

    group: AnswerGroup
    label: int | None = None
    entries: list[tuple[int, uuid.UUID]] = field(default_factory=list)


class _Assignment:
    """Writes a clustering into the stored groups, keeping group ids where the members
    stayed together and pinned members where an instructor put them."""

    def __init__(
        self, session: Session, question: Question, version: RubricVersion, now: datetime
    ) -> None:
        self.session = session
        self.repo = GroupingRepository(session, Scope.system())
        self.question = question
        self.version = version
        self.now = now
        self.members = {m.submission_id: m for m in self.repo.members_of_question(question)}
        self.groups = {g.id: g for g in self.repo.groups(question)}
        self.drafts: dict[uuid.UUID, _Draft] = {}

    def pinned(self, submission_id: uuid.UUID) -> bool:
        member = self.members.get(submission_id)
        return member is not None and member.is_pinned

    def draft_for(self, unpinned: list[uuid.UUID], label: int) -> _Draft:
        """The existing group most of these answers were in (not yet taken by another
        cluster), else a new one: group ids, and links to them, survive a recomputation."""
        votes = Counter(
            self.members[sid].group_id
            for sid in unpinned
            if sid in self.members and self.members[sid].group_id not in self.drafts
        )
        votes = Counter({gid: n for gid, n in votes.items() if gid in self.groups})
        if votes:
            group = self.groups[
                min(votes, key=lambda gid: (-votes[gid], self.groups[gid].position, str(gid)))
            ]
        else:
            group = AnswerGroup(
                id=uuid.uuid4(),
                question_id=self.question.id,
                organization_id=self.question.organization_id,
                course_id=self.question.course_id,
                rubric_version_id=self.version.id,
                position=0,
                created_at=self.now,
            )
            self.repo.add(group)
            self.groups[group.id] = group
        draft = _Draft(group, label=label)
        self.drafts[group.id] = draft
        return draft

    def keep(self, member: AnswerGroupMember) -> None:
        """Count a member in its group's draft (a pinned member's group is always kept)."""
        draft = self.drafts.get(member.group_id)
        if draft is None:
            draft = self.drafts[member.group_id] = _Draft(self.groups[member.group_id])
        draft.entries.append((member.rank, member.submission_id))

    def place(self, answer: GroupableAnswer, rank: int, draft: _Draft | None) -> None:
        member = self.members.pop(answer.submission_id, None)
        if member is None:
            member = AnswerGroupMember(
                submission_id=answer.submission_id, question_id=self.question.id
            )
            self.repo.add(member)
        member.criteria_met = sorted(answer.criteria_met)
        member.rank = rank
        if draft is not None and not member.is_pinned:
            member.group_id = draft.group.id
            member.is_pinned = False
        self.keep(member)

    def run(
        self, answers: list[GroupableAnswer], labels: list[int], representatives: list[int]
    ) -> None:
        by_label: dict[int, _Draft] = {}
        for label in sorted(set(labels)):
            unpinned = [
                a.submission_id
                for a, answer_label in zip(answers, labels, strict=True)
                if answer_label == label and not self.pinned(a.submission_id)
            ]
            if unpinned:
                by_label[label] = self.draft_for(unpinned, label)
        for rank, (answer, label) in enumerate(zip(answers, labels, strict=True)):
            pinned = self.pinned(answer.submission_id)
            self.place(answer, rank, None if pinned else by_label[label])
        for member in self.members.values():  # no longer among the newest answers
            if member.is_pinned:
                self.keep(member)
            else:
                self.session.delete(member)
        for group_id in set(self.groups) - set(self.drafts):
            self.session.delete(self.groups[group_id])
        self.session.flush()
        self.finish(answers, representatives)

    def finish(self, answers: list[GroupableAnswer], representatives: list[int]) -> None:
        """Representatives and positions: largest groups first, ties by first answer."""
        ordered = sorted(
            self.drafts.values(),
            key=lambda d: (-len(d.entries), min(d.entries), str(d.group.id)),
        )
        for position, draft in enumerate(ordered, start=1):
            group = draft.group
            group.position = position
            group.rubric_version_id = self.version.id
            group.computed_at = self.now
            # The estimator's most central answer of the cluster when it is in this group;
            # otherwise (a group an instructor made) its first answer.
            ids = {submission_id for _, submission_id in draft.entries}
            chosen = (
                answers[representatives[draft.label]].submission_id
                if draft.label is not None
                else None
            )
            group.representative_submission_id = chosen if chosen in ids else min(draft.entries)[1]
        self.session.flush()


def recompute_stale(factory: sessionmaker[Session], *, limit: int = 1) -> int:
    """The worker's share: recompute up to ``limit`` stale groupings, each in its own
    transaction, once their last mark is ``SETTLE`` old. Only questions whose groups were
    opened once have a grouping to keep fresh. Returns how many were recomputed."""
    with session_scope(factory) as session:
        due = GroupingRepository(session, Scope.system()).stale_question_ids(
            limit, settled_before=utcnow() - SETTLE
        )
    for question_id in due:
        with session_scope(factory) as session:
            recompute(session, question_service.get_by_internal_id(session, question_id))
    return len(due)


# ---------------------------------------------------------------------------------------
# Reading


def _criteria(version: RubricVersion) -> list[tuple[str, str]]:
    return [(str(c["id"]), str(c.get("description", ""))) for c in version.content["criteria"]]


def _present(
    repo: GroupingRepository, groups: list[AnswerGroup], version: RubricVersion
) -> list[GroupRead]:
    ids = [g.id for g in groups]
    totals = repo.totals(ids)
    met = repo.criteria_of(ids)
    representatives = repo.answers_of(
        [g.representative_submission_id for g in groups if g.representative_submission_id]
    )
    rep_met = repo.criteria_met_of(list(representatives))
    presented = []
    for group in groups:
        total = totals.get(group.id)
        counts = Counter(cid for member in met.get(group.id, []) for cid in member)
        rep_id = group.representative_submission_id
        presented.append(
            GroupRead(
                id=group.id,
                position=group.position,
                size=total.size if total else 0,
                representative=GroupRepresentative(
                    submission_id=rep_id, answer=representatives[rep_id]
                )
                if rep_id in representatives and rep_id is not None
                else None,
                criteria=[
                    GroupCriterion(
                        id=cid,
                        description=description,
                        met_by_representative=cid in rep_met.get(rep_id, []) if rep_id else False,
                        members_met=counts[cid],
                    )
                    for cid, description in _criteria(version)
                ],
                min_points=total.min_points if total else None,
                max_points=total.max_points if total else None,
                overridden=total.overridden if total else 0,
                manual=group.is_manual,
                computed_at=group.computed_at,
            )
        )
    return presented


def _question(session: Session, question_id: str, principal: Principal) -> Question:
    return question_service.get_question(session, principal.scope, question_id)


def _cursor_position(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 9:
        raise InvalidCursor(
            "The cursor is not valid for this listing; pass the next_cursor value of the "
            "previous page unchanged."
        )
    return int(cursor)


def list_groups(
    session: Session, *, question_id: str, principal: Principal, cursor: str | None, limit: int
) -> GroupPage:
    """One page of the question's groups, largest first; recomputed first when stale."""
    question = _question(session, question_id, principal)
    after = _cursor_position(cursor)
    state, stale = refresh_if_stale(session, question, principal.scope)
    version = rubric_service.current_version(session, question)
    repo = GroupingRepository(session, principal.scope)
    rows = list(repo.groups_page(question, after=after, limit=limit + 1))
    page = rows[:limit]
    return GroupPage(
        question_id=question.slug,
        answers=state.answers,
        stale=stale,
        total=repo.count_groups(question),
        computed_at=state.computed_at,
        items=_present(repo, page, version),
        next_cursor=str(page[-1].position) if len(rows) > limit else None,
    )


def _group(
    session: Session, question: Question, group_id: uuid.UUID, principal: Principal
) -> AnswerGroup:
    group = GroupingRepository(session, principal.scope).get_group(question, group_id)
    if group is None:
        raise NotFound(f"No answer group with id {group_id} in question {question.slug!r}.")
    return group


def get_group(
    session: Session,
    *,
    question_id: str,
    group_id: uuid.UUID,
    principal: Principal,
    limit: int,
) -> GroupDetail:
    question = _question(session, question_id, principal)
    group = _group(session, question, group_id, principal)
    repo = GroupingRepository(session, principal.scope)
    version = rubric_service.current_version(session, question)
    (summary,) = _present(repo, [group], version)
    rows = repo.members(group, limit=limit + 1)
    return GroupDetail(
        **summary.model_dump(),
        members=[_member(row) for row in rows[:limit]],
        members_truncated=len(rows) > limit,
    )


def _member(row: MemberRow) -> GroupMemberRead:
    return GroupMemberRead(
        submission_id=row.member.submission_id,
        learner_id=row.learner_id,
        answer=row.answer,
        points=row.points,
        machine_points=row.machine_points,
        overridden=row.is_overridden,
        pinned=row.member.is_pinned,
        criteria_met=list(row.member.criteria_met or []),
    )


# ---------------------------------------------------------------------------------------
# Changing


def grade_group(
    session: Session,
    *,
    question_id: str,
    group_id: uuid.UUID,
    body: GroupGrade,
    principal: Principal,
) -> GroupGradeResult:
    """Give every member the same points and reason, each as an ordinary override (the
    one override path: audited row by row, outbox and LMS score per submission). Members an
    instructor overrode one by one are left alone unless ``include_overridden``."""
    question = _question(session, question_id, principal)
    group = _group(session, question, group_id, principal)
    if body.points > question.max_points:
        raise UnprocessableRequest(
            f"points {body.points:g} is above the maximum of {question.max_points:g} "
            "for this question."
        )
    submission_ids = GroupingRepository(session, principal.scope).member_submission_ids(group)
    individual = review_service.individually_overridden(session, submission_ids)
    override_ids: list[int] = []
    skipped = 0
    for submission_id in submission_ids:
        if submission_id in individual and not body.include_overridden:
            skipped += 1
            continue
        override = review_service.create_override(
            session,
            submission_id=submission_id,
            body=OverrideCreate(points=body.points, reason=body.reason),
            principal=principal,
            answer_group_id=group.id,
        )
        override_ids.append(override.id)
    log.info(
        "graded group %s of question %s: %d applied, %d skipped",
        group.id,
        question.slug,
        len(override_ids),
        skipped,
    )
    return GroupGradeResult(
        group_id=group.id, applied=len(override_ids), skipped=skipped, override_ids=override_ids
    )


def _selected(
    session: Session, question: Question, group: AnswerGroup, submission_ids: list[uuid.UUID]
) -> list[AnswerGroupMember]:
    """The named members of ``group``, or a 422 naming what is wrong."""
    if len(set(submission_ids)) != len(submission_ids):
        raise GroupMembersInvalid("submission_ids names an answer twice.")
    members = GroupingRepository(session, Scope.system()).members_by_submission(
        question, submission_ids
    )
    outside = set(submission_ids) - {m.submission_id for m in members if m.group_id == group.id}
    if outside:
        shown = ", ".join(sorted(str(s) for s in outside)[:5])
        raise GroupMembersInvalid(f"Not members of group {group.id}: {shown}.")
    return sorted(members, key=lambda m: (m.rank, str(m.submission_id)))


def _locked(session: Session, question: Question, principal: Principal) -> None:
    """Serialise with computations of the same question (they rewrite the members)."""
    GroupingRepository(session, principal.scope).state(question, lock=True)


def split_group(
    session: Session,
    *,
    question_id: str,
    group_id: uuid.UUID,
    body: GroupSplit,
    principal: Principal,
) -> GroupRead:
    """A new group of the named members, pinned there (a recomputation keeps it)."""
    question = _question(session, question_id, principal)
    _locked(session, question, principal)
    group = _group(session, question, group_id, principal)
    members = _selected(session, question, group, body.submission_ids)
    repo = GroupingRepository(session, principal.scope)
    if len(members) == len(repo.member_submission_ids(group)):
        raise GroupMembersInvalid(
            "A split must leave at least one answer in the group; these are all its members."
        )
    now = utcnow()
    new = AnswerGroup(
        id=uuid.uuid4(),
        question_id=question.id,
        organization_id=question.organization_id,
        course_id=question.course_id,
        rubric_version_id=group.rubric_version_id,
        position=repo.count_groups(question) + 1,
        representative_submission_id=members[0].submission_id,
        is_manual=True,
        computed_at=now,
        created_at=now,
    )
    repo.add(new)
    session.flush()
    _pin(members, new)
    _after_change(session, repo, question, [group])
    log.info("split %d answers off group %s into %s", len(members), group.id, new.id)
    version = rubric_service.current_version(session, question)
    return _present(repo, [new], version)[0]


def move_members(
    session: Session,
    *,
    question_id: str,
    group_id: uuid.UUID,
    body: GroupMove,
    principal: Principal,
) -> GroupRead:
    """Move the named members to another group of the question, pinned there. A group
    left empty is deleted. Returns the target group."""
    question = _question(session, question_id, principal)
    _locked(session, question, principal)
    group = _group(session, question, group_id, principal)
    target = _group(session, question, body.to_group_id, principal)
    if target.id == group.id:
        raise GroupMembersInvalid("to_group_id is the group the answers are in already.")
    members = _selected(session, question, group, body.submission_ids)
    _pin(members, target)
    repo = GroupingRepository(session, principal.scope)
    _after_change(session, repo, question, [group])
    log.info("moved %d answers from group %s to %s", len(members), group.id, target.id)
    version = rubric_service.current_version(session, question)
    return _present(repo, [target], version)[0]


def _pin(members: list[AnswerGroupMember], group: AnswerGroup) -> None:
    for member in members:
        member.group_id = group.id
        member.is_pinned = True


def _after_change(
    session: Session, repo: GroupingRepository, question: Question, sources: list[AnswerGroup]
) -> None:
    """A source group left without members goes; one whose representative left gets its
    first remaining answer."""
    session.flush()
    for source in sources:
        remaining = repo.member_submission_ids(source)
        if not remaining:
            session.delete(source)
        elif source.representative_submission_id not in remaining:
            source.representative_submission_id = remaining[0]
    session.flush()
