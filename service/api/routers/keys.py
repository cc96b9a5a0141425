from __future__ import annotations

import uuid

from fastapi import APIRouter

from service.api.deps import Admin, SessionDep
from service.api.problems import ProblemDetail
from service.api.routers.common import AUTH_ERRORS, NOT_FOUND, problems
from service.domain.keys import service as key_service
from service.domain.keys.schemas import KeyCreate, KeyCreated, KeyList, KeyRead

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=AUTH_ERRORS)


@router.post(
    "",
    status_code=201,
    response_model=KeyCreated,
    summary="Create an API key of your organisation (admin)",
    responses=NOT_FOUND,
    openapi_extra=problems("unprocessable"),
)
def create_key(body: KeyCreate, session: SessionDep, admin: Admin) -> KeyCreated:
    """Creates an API key of the caller's organisation; the key is shown in this response only.

    Who: admin. An instructor key is granted the courses named in `course_ids` (more later with
    `PUT /v1/courses/{course_id}/instructors/{key_id}`); 404 for an unknown course.
    """
    created = key_service.create_key_for(session, admin, body)
    return KeyCreated(**key_service.present_key(session, created.row).model_dump(), key=created.key)


@router.get("", response_model=KeyList, summary="List your organisation's keys (admin)")
def list_keys(session: SessionDep, admin: Admin) -> KeyList:
    """Lists the organisation's API keys (name, role, prefix, courses, when last used, revoked),
    never the keys themselves; changes nothing.

    Who: admin.
    """
    rows = key_service.list_keys(session, admin.scope)
    return KeyList(items=[key_service.present_key(session, k) for k in rows])


@router.delete(
    "/{key_id}",
    response_model=KeyRead,
    summary="Revoke an API key (admin)",
    responses={
        404: {"model": ProblemDetail, "description": "Unknown key"},
        409: {"model": ProblemDetail, "description": "The organisation's last active admin key"},
    },
)
def revoke_key(key_id: uuid.UUID, session: SessionDep, admin: Admin) -> KeyRead:
    """Revokes an API key: it answers 401 from now on. Its submissions stay.

    Who: admin of the key's organisation. 409 `conflict` for the organisation's last active
    admin key (create another first).
    """
    return key_service.present_key(session, key_service.revoke_key(session, admin.scope, key_id))
