"""Organisations and their courses: the deployment's operator creates organisations, an
organisation's admins create courses and grant instructors courses."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db.models import Course, CourseGrant, Organization
from service.domain.access.principal import Principal, Role, Scope
from service.domain.organizations.repository import CourseRepository, OrganizationRepository
from service.domain.organizations.schemas import CourseCreate, OrganizationCreate
from service.errors import Conflict, NotFound, UnprocessableRequest

log = logging.getLogger(__name__)

DEFAULT_ORGANIZATION_SLUG = "default"
DEFAULT_COURSE_SLUG = "default"


@dataclass(frozen=True)
class Home:
    organization: Organization
    course: Course


def ensure_default_organization(session: Session) -> Home:
    """The deployment's own organisation and its default course (created by the migration;
    made again here on a database emptied since)."""
    organizations = OrganizationRepository(session, Scope.system())
    organization = organizations.get_by_slug(DEFAULT_ORGANIZATION_SLUG)
    if organization is None:
        organization = Organization(
            id=uuid.uuid4(), slug=DEFAULT_ORGANIZATION_SLUG, name="Default organisation"
        )
        organizations.add(organization)
        session.flush()
    course = CourseRepository(session, Scope.system()).get_default(organization.id)
    if course is None:
        course = _add_course(session, organization.id, DEFAULT_COURSE_SLUG, "Default course")
        course.is_default = True
        session.flush()
    return Home(organization, course)


def _add_course(session: Session, organization_id: uuid.UUID, slug: str, title: str) -> Course:
    course = Course(id=uuid.uuid4(), organization_id=organization_id, slug=slug, title=title)
    CourseRepository(session, Scope.system()).add(course)
    return course


def create_organization(session: Session, body: OrganizationCreate) -> Home:
    """A new organisation with its default course (its first admin key is made by the caller,
    the keys service, so that the two domains do not import each other)."""
    organizations = OrganizationRepository(session, Scope.system())
    if organizations.get_by_slug(body.id) is not None:
        raise Conflict(f"An organisation with id {body.id!r} exists.")
    organization = Organization(id=uuid.uuid4(), slug=body.id, name=body.name)
    organizations.add(organization)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create of the same id
        raise Conflict(f"An organisation with id {body.id!r} exists.") from exc
    course = _add_course(session, organization.id, DEFAULT_COURSE_SLUG, "Default course")
    course.is_default = True
    session.flush()
    log.info("organisation %s created", organization.id)
    return Home(organization, course)


def list_organizations(session: Session) -> Sequence[Organization]:
    return OrganizationRepository(session, Scope.system()).list_all()


def get_organization(session: Session, organization_id: uuid.UUID) -> Organization:
    organization = OrganizationRepository(session, Scope.system()).get(organization_id)
    if organization is None:
        raise NotFound("No such organisation.")
    return organization


def create_course(session: Session, principal: Principal, body: CourseCreate) -> Course:
    courses = CourseRepository(session, principal.scope)
    if courses.get_by_slug(principal.organization_id, body.id) is not None:
        raise Conflict(f"A course with id {body.id!r} exists in this organisation.")
    course = _add_course(session, principal.organization_id, body.id, body.title)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A course with id {body.id!r} exists in this organisation.") from exc
    return course


def list_courses(session: Session, scope: Scope) -> Sequence[Course]:
    return CourseRepository(session, scope).list_all()


def get_course(session: Session, scope: Scope, organization_id: uuid.UUID, slug: str) -> Course:
    course = CourseRepository(session, scope).get_by_slug(organization_id, slug)
    if course is None:
        raise NotFound(f"No course with id {slug!r}.")
    return course


def resolve_course(session: Session, principal: Principal, slug: str | None) -> Course:
    """The course a new question goes to: the one named, else the caller's only course,
    else the organisation's default course."""
    scope = principal.scope
    if slug is not None:
        return get_course(session, scope, principal.organization_id, slug)
    courses = CourseRepository(session, scope)
    if principal.role is Role.INSTRUCTOR:
        granted = courses.by_ids(sorted(principal.course_ids))
        if len(granted) == 1:
            return granted[0]
        default = courses.get_default(principal.organization_id)
        if default is not None:
            return default
        raise UnprocessableRequest(
            "Name the course with `course_id`: this key is granted several courses."
        )
    default = courses.get_default(principal.organization_id)
    if default is None:
        raise NotFound("This organisation has no default course; name one with `course_id`.")
    return default


def course_slugs(session: Session, course_ids: Sequence[uuid.UUID]) -> list[str]:
    return [c.slug for c in CourseRepository(session, Scope.system()).by_ids(course_ids)]


def granted_course_ids(session: Session, api_key_id: uuid.UUID) -> frozenset[uuid.UUID]:
    return CourseRepository(session, Scope.system()).granted_course_ids(api_key_id)


def grant(session: Session, *, api_key_id: uuid.UUID, course: Course) -> None:
    courses = CourseRepository(session, Scope.organization(course.organization_id))
    if courses.find_grant(api_key_id, course.id) is None:
        courses.add_grant(CourseGrant(api_key_id=api_key_id, course_id=course.id))
        session.flush()


def revoke_grant(session: Session, *, api_key_id: uuid.UUID, course: Course) -> None:
    courses = CourseRepository(session, Scope.organization(course.organization_id))
    existing = courses.find_grant(api_key_id, course.id)
    if existing is None:
        raise NotFound("That key is not granted this course.")
    courses.delete_grant(existing)
    session.flush()


def lock_organization(session: Session, organization_id: uuid.UUID) -> None:
    OrganizationRepository(session, Scope.system()).lock(organization_id)


def get_organization_by_slug(session: Session, slug: str) -> Organization:
    organization = OrganizationRepository(session, Scope.system()).get_by_slug(slug)
    if organization is None:
        raise NotFound(f"No organisation with id {slug!r}.")
    return organization


def embed_origins(session: Session, organization_id: uuid.UUID) -> list[str]:
    return list(get_organization(session, organization_id).embed_origins or [])


def set_embed_origins(
    session: Session, organization_id: uuid.UUID, origins: Sequence[str]
) -> list[str]:
    """Origins allowed to frame the student pages. Plain http would let anyone on the
    network path inject a frame that shows a student's feedback, so only https, except on
    the machine itself (a developer's LMS)."""
    cleaned: list[str] = []
    for origin in origins:
        lowered = origin.lower().rstrip("/")
        host = lowered.split("://", 1)[1].split(":", 1)[0]
        if lowered.startswith("http://") and host not in ("localhost", "127.0.0.1"):
            raise UnprocessableRequest(f"{origin!r}: an embedding origin must use https.")
        if lowered not in cleaned:
            cleaned.append(lowered)
    organization = get_organization(session, organization_id)
    organization.embed_origins = cleaned
    session.flush()
    return cleaned
