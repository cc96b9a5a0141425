"""The SQL form of a ``Scope``, shared by the repositories."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, false
from sqlalchemy.orm import InstrumentedAttribute

from service.domain.access.principal import Scope


def scope_conditions(
    scope: Scope,
    *,
    organization: InstrumentedAttribute[uuid.UUID],
    course: InstrumentedAttribute[uuid.UUID] | None = None,
    submitted_by: InstrumentedAttribute[Any] | None = None,
) -> list[ColumnElement[bool]]:
    """WHERE conditions limiting a table to ``scope`` (none for the system scope)."""
    conditions: list[ColumnElement[bool]] = []
    if scope.organization_id is not None:
        conditions.append(organization == scope.organization_id)
    if scope.course_ids is not None:
        if course is None:
            # A table without courses is invisible to a course-limited caller.
            conditions.append(false())
        elif scope.course_ids:
            conditions.append(course.in_(sorted(scope.course_ids)))
        else:
            conditions.append(false())
    if scope.submitted_by is not None:
        if submitted_by is None:
            conditions.append(false())
        else:
            conditions.append(submitted_by == scope.submitted_by)
    return conditions
