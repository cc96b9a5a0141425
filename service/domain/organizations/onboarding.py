"""Steps that span organisations and keys (kept apart so neither service imports the other's
use cases)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from service.db.models import Course
from service.domain.access.principal import Principal, Role
from service.domain.keys import service as key_service
from service.domain.keys.service import NewKey
from service.domain.organizations import service as organization_service
from service.domain.organizations.schemas import OrganizationCreate
from service.domain.organizations.service import Home
from service.errors import UnprocessableRequest


@dataclass(frozen=True)
class Onboarded:
    home: Home
    admin_key: NewKey


def create_organization(session: Session, body: OrganizationCreate) -> Onboarded:
    """A new organisation, its default course and its first admin key (shown once)."""
    home = organization_service.create_organization(session, body)
    admin_key = key_service.create_key(
        session, organization_id=home.organization.id, name=body.admin_key_name, role=Role.ADMIN
    )
    return Onboarded(home, admin_key)


def _instructor_key(session: Session, admin: Principal, key_id: uuid.UUID) -> uuid.UUID:
    row = key_service.get_key(session, admin.scope, key_id)
    if row.role != Role.INSTRUCTOR.value:
        raise UnprocessableRequest(
            f"Key {key_id} has role {row.role!r}: only instructor keys are granted courses."
        )
    return row.id


def grant_course(session: Session, admin: Principal, course: Course, key_id: uuid.UUID) -> None:
    organization_service.grant(
        session, api_key_id=_instructor_key(session, admin, key_id), course=course
    )


def revoke_course(session: Session, admin: Principal, course: Course, key_id: uuid.UUID) -> None:
    organization_service.revoke_grant(
        session, api_key_id=_instructor_key(session, admin, key_id), course=course
    )
