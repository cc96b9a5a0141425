"""View helpers of the admin pages (keys, courses): layout only, no rule of their own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from service.domain.keys.schemas import KeyRead
from service.domain.organizations.schemas import CourseRead


def form_errors(exc: ValidationError, fields: Mapping[str, str], fallback: str) -> dict[str, str]:
    """A schema's messages by form control id (``fields`` maps a schema field to its id),
    the first per control; anything else goes to ``fallback``."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        location = error["loc"]
        key = fields.get(str(location[0]), fallback) if location else fallback
        errors.setdefault(key, error["msg"].removeprefix("Value error, "))
    return errors


def instructors_by_course(
    courses: Sequence[CourseRead], keys: Sequence[KeyRead]
) -> dict[str, list[KeyRead]]:
    """For each course (by id), the active instructor keys granted it."""
    return {
        course.id: [
            k
            for k in keys
            if k.role == "instructor" and k.revoked_at is None and course.id in k.course_ids
        ]
        for course in courses
    }
