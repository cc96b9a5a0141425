"""The LTI tables' queries. Platforms are read within a scope (an admin sees their
organisation's); launches find their platform by issuer, which is the deployment's one
lookup that comes before any scope is known."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from service.db.models import (
    CallbackDelivery,
    LtiContext,
    LtiDeployment,
    LtiLaunch,
    LtiNonce,
    LtiPlatform,
    LtiRegistrationInvite,
    LtiResourceLink,
    Question,
    Submission,
)
from service.domain.access.principal import Scope


class PlatformRepository:
    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    def _scoped(self) -> list[object]:
        if self.scope.organization_id is None:
            return []
        return [LtiPlatform.organization_id == self.scope.organization_id]

    def list_all(self) -> Sequence[LtiPlatform]:
        stmt = (
            select(LtiPlatform)
            .where(*self._scoped())  # type: ignore[arg-type]
            .options(selectinload(LtiPlatform.deployments))
            .order_by(LtiPlatform.created_at, LtiPlatform.id)
        )
        return self.session.scalars(stmt).all()

    def get(self, platform_id: uuid.UUID) -> LtiPlatform | None:
        stmt = (
            select(LtiPlatform)
            .where(LtiPlatform.id == platform_id, *self._scoped())  # type: ignore[arg-type]
            .options(selectinload(LtiPlatform.deployments))
        )
        return self.session.scalars(stmt).first()

    def by_issuer(self, issuer: str, client_id: str | None) -> Sequence[LtiPlatform]:
        stmt = select(LtiPlatform).where(LtiPlatform.issuer == issuer, *self._scoped())  # type: ignore[arg-type]
        if client_id is not None:
            stmt = stmt.where(LtiPlatform.client_id == client_id)
        return self.session.scalars(stmt.limit(2)).all()

    def exists(self, issuer: str, client_id: str) -> bool:
        stmt = select(LtiPlatform.id).where(
            LtiPlatform.issuer == issuer, LtiPlatform.client_id == client_id
        )
        return self.session.scalars(stmt).first() is not None

    def add(self, platform: LtiPlatform) -> None:
        self.session.add(platform)

    def delete(self, platform: LtiPlatform) -> None:
        self.session.delete(platform)

    def has_deployment(self, platform_id: uuid.UUID, deployment_id: str) -> bool:
        stmt = select(LtiDeployment.id).where(
            LtiDeployment.platform_id == platform_id, LtiDeployment.deployment_id == deployment_id
        )
        return self.session.scalars(stmt).first() is not None

    def score_deliveries(self, platform_id: uuid.UUID, *, limit: int) -> Sequence[CallbackDelivery]:
        stmt = (
            select(CallbackDelivery)
            .where(CallbackDelivery.lti_platform_id == platform_id)
            .order_by(CallbackDelivery.created_at.desc(), CallbackDelivery.id.desc())
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    def origins_of_organization(self, organization_id: uuid.UUID) -> Sequence[tuple[str, str]]:
        stmt = select(LtiPlatform.issuer, LtiPlatform.auth_login_url).where(
            LtiPlatform.organization_id == organization_id
        )
        return [(row[0], row[1]) for row in self.session.execute(stmt)]


class LaunchRepository:
    """Launch-time rows: nonces, contexts, resource links and the launches themselves. A
    launch's platform fixes the organisation, so these take the platform, not a scope."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_nonce(self, platform_id: uuid.UUID, nonce: str, expires_at: datetime) -> None:
        self.session.add(LtiNonce(platform_id=platform_id, nonce=nonce, expires_at=expires_at))
        self.session.flush()  # a replay fails here, on the primary key

    def delete_expired(self, now: datetime) -> int:
        """Nonces, launches and invitations past their time (each an indexed DELETE)."""
        removed = 0
        for model in (LtiNonce, LtiLaunch, LtiRegistrationInvite):
            result = self.session.execute(delete(model).where(model.expires_at < now))
            removed += int(getattr(result, "rowcount", 0) or 0)
        return removed

    def context(self, platform_id: uuid.UUID, context_id: str) -> LtiContext | None:
        stmt = select(LtiContext).where(
            LtiContext.platform_id == platform_id, LtiContext.context_id == context_id
        )
        return self.session.scalars(stmt).first()

    def add(self, row: object) -> None:
        self.session.add(row)
        self.session.flush()

    def resource_link(self, platform_id: uuid.UUID, link_id: str) -> LtiResourceLink | None:
        stmt = (
            select(LtiResourceLink)
            .where(
                LtiResourceLink.platform_id == platform_id,
                LtiResourceLink.resource_link_id == link_id,
            )
            .options(selectinload(LtiResourceLink.question))
        )
        return self.session.scalars(stmt).first()

    def launch_by_hash(self, token_hash: str) -> LtiLaunch | None:
        return self.session.scalars(
            select(LtiLaunch).where(LtiLaunch.token_hash == token_hash)
        ).first()

    def attempts(self, link_id: uuid.UUID, learner_id: str) -> Sequence[Submission]:
        """A learner's submissions in one placement, oldest first."""
        stmt = (
            select(Submission)
            .where(Submission.lti_resource_link_id == link_id, Submission.learner_id == learner_id)
            .options(selectinload(Submission.results), selectinload(Submission.question))
            .order_by(Submission.created_at, Submission.id)
        )
        return self.session.scalars(stmt).all()

    def latest_per_learner(self, question_id: str) -> list[Submission]:
        """For each (placement, learner) of a question, their newest submission: one score
        per gradebook cell to post again."""
        stmt = (
            select(Submission)
            .where(
                Submission.question_id == question_id,
                Submission.lti_resource_link_id.is_not(None),
            )
            .options(selectinload(Submission.question))
            .order_by(Submission.created_at, Submission.id)
        )
        latest: dict[tuple[object, str], Submission] = {}
        for row in self.session.scalars(stmt):
            latest[(row.lti_resource_link_id, row.learner_id)] = row
        return list(latest.values())

    def count_attempts(self, link_id: uuid.UUID, learner_id: str) -> int:
        stmt = select(func.count()).where(
            Submission.lti_resource_link_id == link_id, Submission.learner_id == learner_id
        )
        return int(self.session.scalar(stmt) or 0)

    def course_questions(self, course_id: uuid.UUID) -> Sequence[Question]:
        stmt = select(Question).where(Question.course_id == course_id).order_by(Question.slug)
        return self.session.scalars(stmt).all()

    def invite_by_hash(self, token_hash: str) -> LtiRegistrationInvite | None:
        stmt = select(LtiRegistrationInvite).where(LtiRegistrationInvite.token_hash == token_hash)
        return self.session.scalars(stmt.with_for_update()).first()
