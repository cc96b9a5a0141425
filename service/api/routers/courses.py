from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from service.api.deps import Admin, Instructor, SessionDep
from service.api.problems import ProblemDetail
from service.api.routers.common import AUTH_ERRORS, NOT_FOUND, problems
from service.db.models import Course
from service.domain.organizations import onboarding
from service.domain.organizations import service as organization_service
from service.domain.organizations.schemas import CourseCreate, CourseList, CourseRead
from service.domain.validation import SLUG_PATTERN

router = APIRouter(prefix="/v1/courses", tags=["courses"], responses=AUTH_ERRORS)

CourseId = Annotated[str, Path(max_length=64, pattern=SLUG_PATTERN)]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ProblemDetail, "description": "A course with this id exists"}
}


def _present(course: Course) -> CourseRead:
    return CourseRead(
        id=course.slug,
        title=course.title,
        is_default=course.is_default,
        created_at=course.created_at,
    )


@router.post(
    "",
    status_code=201,
    response_model=CourseRead,
    summary="Create a course in your organisation (admin)",
    responses=CONFLICT,
)
def create_course(body: CourseCreate, session: SessionDep, admin: Admin) -> CourseRead:
    """Creates a course in the caller's organisation.

    Who: admin. 409 `conflict` when the organisation has a course with this id. Grant
    instructor keys the course with `PUT /v1/courses/{course_id}/instructors/{key_id}`.
    """
    return _present(organization_service.create_course(session, admin, body))


@router.get("", response_model=CourseList, summary="The courses you may see")
def list_courses(session: SessionDep, principal: Instructor) -> CourseList:
    """Lists the courses the key may see; changes nothing.

    Who: admin (the organisation's courses) or instructor (those it is granted).
    """
    courses = organization_service.list_courses(session, principal.scope)
    return CourseList(items=[_present(c) for c in courses])


@router.get("/{course_id}", response_model=CourseRead, summary="One course", responses=NOT_FOUND)
def get_course(course_id: CourseId, session: SessionDep, principal: Instructor) -> CourseRead:
    """Returns one course; changes nothing.

    Who: admin of its organisation, or an instructor granted it. 404 otherwise.
    """
    return _present(
        organization_service.get_course(
            session, principal.scope, principal.organization_id, course_id
        )
    )


@router.put(
    "/{course_id}/instructors/{key_id}",
    status_code=204,
    summary="Grant an instructor key this course (admin)",
    responses=NOT_FOUND,
    openapi_extra=problems("unprocessable"),
)
def grant_course(
    course_id: CourseId, key_id: uuid.UUID, session: SessionDep, admin: Admin
) -> Response:
    """Grants an instructor key this course: it may then see and manage the course's
    questions and submissions.

    Who: admin. Granting twice changes nothing. 422 `unprocessable` for a key that is not an
    instructor key.
    """
    course = organization_service.get_course(session, admin.scope, admin.organization_id, course_id)
    onboarding.grant_course(session, admin, course, key_id)
    return Response(status_code=204)


@router.delete(
    "/{course_id}/instructors/{key_id}",
    status_code=204,
    summary="Take this course from an instructor key (admin)",
    responses=NOT_FOUND,
)
def revoke_course(
    course_id: CourseId, key_id: uuid.UUID, session: SessionDep, admin: Admin
) -> Response:
    """Takes this course from an instructor key; the key keeps its other courses.

    Who: admin. 404 when the key is not granted the course.
    """
    course = organization_service.get_course(session, admin.scope, admin.organization_id, course_id)
    onboarding.revoke_course(session, admin, course, key_id)
    return Response(status_code=204)
