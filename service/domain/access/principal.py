"""Who is calling, and what they may see: resolved once per request, applied in repositories.

A ``Principal`` is the caller (today an API key; an LTI launch becomes one too). Its
``Scope`` is what every repository takes as a constructor argument: a repository built
without one cannot be written, so a query that forgets the caller's organisation or
courses does not exist. Work that belongs to no caller (the background worker, start-up,
the command line) says so explicitly with ``Scope.system()``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"  # the deployment: creates organisations, sees no student data
    ADMIN = "admin"  # one organisation: its keys, courses and everything in them
    INSTRUCTOR = "instructor"  # the courses it is granted
    INTEGRATION = "integration"  # an LMS connection: its organisation's questions, its own posts


@dataclass(frozen=True)
class Scope:
    """The rows a caller may touch.

    ``organization_id`` None means every organisation, ``course_ids`` None every course of
    the organisation, ``submitted_by`` None submissions posted by anyone (otherwise only
    that key's). Build one with the class methods, which name the intent.
    """

    organization_id: uuid.UUID | None
    course_ids: frozenset[uuid.UUID] | None = None
    submitted_by: uuid.UUID | None = None

    @classmethod
    def system(cls) -> Scope:
        """Everything: for the worker, start-up and the command line, never for a request."""
        return cls(organization_id=None)

    @classmethod
    def organization(cls, organization_id: uuid.UUID) -> Scope:
        return cls(organization_id=organization_id)

    @property
    def is_system(self) -> bool:
        return self.organization_id is None

    def allows_course(self, course_id: uuid.UUID) -> bool:
        return self.course_ids is None or course_id in self.course_ids


class Via(StrEnum):
    """How the caller proved who it is."""

    KEY = "key"  # an API key (bearer, or the console signed in with one)
    LTI = "lti"  # an LTI launch from a registered LMS (the console opened by the launch)


@dataclass(frozen=True)
class Principal:
    # The API key's id; for an LTI launch, its console session's id (rate limits and audit
    # rows still name one caller, but no api_key row has it: see ``api_key_id``).
    key_id: uuid.UUID
    name: str
    role: Role
    organization_id: uuid.UUID
    # Courses an instructor is granted (empty for other roles, which see the organisation).
    course_ids: frozenset[uuid.UUID]
    is_operator: bool = False
    via: Via = Via.KEY

    @property
    def api_key_id(self) -> uuid.UUID | None:
        """The api_key row to record as the author of a change, if the caller has one."""
        return self.key_id if self.via is Via.KEY else None

    @property
    def is_staff(self) -> bool:
        """Sees full score breakdowns and rubric internals (admins and instructors)."""
        return self.role in (Role.ADMIN, Role.INSTRUCTOR)

    @property
    def scope(self) -> Scope:
        """Questions, jobs and analytics this caller may see."""
        if self.role is Role.INSTRUCTOR:
            return Scope(self.organization_id, course_ids=self.course_ids)
        if self.role is Role.OPERATOR:
            # The deployment's operator sees no organisation's data: an empty course set.
            return Scope(self.organization_id, course_ids=frozenset())
        return Scope(self.organization_id)

    @property
    def submission_scope(self) -> Scope:
        """Submissions this caller may read: an integration only what it posted."""
        if self.role is Role.INTEGRATION:
            return Scope(self.organization_id, submitted_by=self.key_id)
        return self.scope
