from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from service.db.models import Course, CourseGrant, Organization
from service.domain.access.principal import Scope
from service.domain.access.sql import scope_conditions


class OrganizationRepository:
    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    def _visible(self) -> list[ColumnElement[bool]]:
        if self.scope.organization_id is None:
            return []
        return [Organization.id == self.scope.organization_id]

    def get_by_slug(self, slug: str) -> Organization | None:
        stmt = select(Organization).where(Organization.slug == slug, *self._visible())
        return self.session.scalars(stmt).first()

    def get(self, organization_id: uuid.UUID) -> Organization | None:
        stmt = select(Organization).where(Organization.id == organization_id, *self._visible())
        return self.session.scalars(stmt).first()

    def lock(self, organization_id: uuid.UUID) -> Organization | None:
        """The organisation row, locked until the transaction ends (serialises changes that
        must see each other, such as revoking admin keys)."""
        stmt = (
            select(Organization)
            .where(Organization.id == organization_id, *self._visible())
            .with_for_update()
        )
        return self.session.scalars(stmt).first()

    def list_all(self) -> Sequence[Organization]:
        stmt = select(Organization).where(*self._visible()).order_by(Organization.slug)
        return self.session.scalars(stmt).all()

    def add(self, organization: Organization) -> None:
        self.session.add(organization)


class CourseRepository:
    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    def _where(self) -> list[ColumnElement[bool]]:
        return scope_conditions(self.scope, organization=Course.organization_id, course=Course.id)

    def get(self, course_id: uuid.UUID) -> Course | None:
        stmt = select(Course).where(Course.id == course_id, *self._where())
        return self.session.scalars(stmt).first()

    def get_by_slug(self, organization_id: uuid.UUID, slug: str) -> Course | None:
        stmt = select(Course).where(
            Course.organization_id == organization_id,
            Course.slug == slug,
            *self._where(),
        )
        return self.session.scalars(stmt).first()

    def get_default(self, organization_id: uuid.UUID) -> Course | None:
        stmt = select(Course).where(
            Course.organization_id == organization_id,
            Course.is_default.is_(True),
            *self._where(),
        )
        return self.session.scalars(stmt).first()

    def list_all(self) -> Sequence[Course]:
        stmt = select(Course).where(*self._where()).order_by(Course.slug)
        return self.session.scalars(stmt).all()

    def by_ids(self, ids: Sequence[uuid.UUID]) -> Sequence[Course]:
        if not ids:
            return []
        stmt = select(Course).where(Course.id.in_(ids), *self._where())
        return self.session.scalars(stmt.order_by(Course.slug)).all()

    def add(self, course: Course) -> None:
        self.session.add(course)

    # Grants of instructor keys to courses.

    def granted_course_ids(self, api_key_id: uuid.UUID) -> frozenset[uuid.UUID]:
        stmt = select(CourseGrant.course_id).where(CourseGrant.api_key_id == api_key_id)
        return frozenset(self.session.scalars(stmt).all())

    def find_grant(self, api_key_id: uuid.UUID, course_id: uuid.UUID) -> CourseGrant | None:
        return self.session.get(CourseGrant, (api_key_id, course_id))

    def add_grant(self, grant: CourseGrant) -> None:
        self.session.add(grant)

    def delete_grant(self, grant: CourseGrant) -> None:
        self.session.delete(grant)
