from __future__ import annotations

import uuid

from fastapi import APIRouter

from service.api.deps import Admin, SessionDep
from service.api.problems import ProblemDetail
from service.api.routers.common import AUTH_ERRORS
from service.domain.keys import service as key_service
from service.domain.keys.schemas import KeyCreate, KeyCreated, KeyList, KeyRead

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=AUTH_ERRORS)


@router.post("", status_code=201, response_model=KeyCreated, summary="Create an API key (admin)")
def create_key(body: KeyCreate, session: SessionDep, _admin: Admin) -> KeyCreated:
    created = key_service.create_key(session, name=body.name, role=body.role)
    return KeyCreated(**KeyRead.model_validate(created.row).model_dump(), key=created.key)


@router.get("", response_model=KeyList, summary="List API keys, without secrets (admin)")
def list_keys(session: SessionDep, _admin: Admin) -> KeyList:
    return KeyList(items=[KeyRead.model_validate(k) for k in key_service.list_keys(session)])


@router.delete(
    "/{key_id}",
    response_model=KeyRead,
    summary="Revoke an API key (admin)",
    responses={
        404: {"model": ProblemDetail, "description": "Unknown key"},
        409: {"model": ProblemDetail, "description": "The last active admin key"},
    },
)
def revoke_key(key_id: uuid.UUID, session: SessionDep, _admin: Admin) -> KeyRead:
    return KeyRead.model_validate(key_service.revoke_key(session, key_id))
