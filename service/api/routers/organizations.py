from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.api.deps import Operator, SessionDep
from service.api.problems import ProblemDetail
from service.api.routers.common import AUTH_ERRORS
from service.db.models import Organization
from service.domain.keys import service as key_service
from service.domain.keys.schemas import KeyCreated
from service.domain.organizations import onboarding
from service.domain.organizations import service as organization_service
from service.domain.organizations.schemas import (
    OrganizationCreate,
    OrganizationCreated,
    OrganizationList,
    OrganizationRead,
)

router = APIRouter(prefix="/v1/organizations", tags=["organisations"], responses=AUTH_ERRORS)

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ProblemDetail, "description": "An organisation with this id exists"}
}


def _present(organization: Organization) -> OrganizationRead:
    return OrganizationRead(
        id=organization.slug, name=organization.name, created_at=organization.created_at
    )


@router.post(
    "",
    status_code=201,
    response_model=OrganizationCreated,
    summary="Create an organisation and its first admin key (operator)",
    responses=CONFLICT,
)
def create_organization(
    body: OrganizationCreate, session: SessionDep, _operator: Operator
) -> OrganizationCreated:
    """Creates an organisation (a school), its default course and its first admin key.

    Who: the deployment operator's key. The admin key is shown only in this response: hand it
    to the school's administrator. 409 `conflict` when the id is taken.
    """
    onboarded = onboarding.create_organization(session, body)
    key = onboarded.admin_key
    return OrganizationCreated(
        organization=_present(onboarded.home.organization),
        default_course_id=onboarded.home.course.slug,
        admin_key=KeyCreated(**key_service.present_key(session, key.row).model_dump(), key=key.key),
    )


@router.get("", response_model=OrganizationList, summary="List organisations (operator)")
def list_organizations(session: SessionDep, _operator: Operator) -> OrganizationList:
    """Lists the deployment's organisations; changes nothing.

    Who: the deployment operator's key.
    """
    return OrganizationList(
        items=[_present(o) for o in organization_service.list_organizations(session)]
    )
