"""Which LMS sites may frame the student feedback pages of the caller's organisation."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import Admin, SessionDep
from service.api.routers.common import AUTH_ERRORS, problems
from service.domain.organizations import service as organization_service
from service.domain.organizations.schemas import EmbeddingRead, EmbeddingUpdate

router = APIRouter(prefix="/v1/organization", tags=["organisations"], responses=AUTH_ERRORS)


@router.get(
    "/embedding",
    response_model=EmbeddingRead,
    summary="Origins allowed to embed your students' feedback pages (admin)",
)
def get_embedding(session: SessionDep, principal: Admin) -> EmbeddingRead:
    """Returns the origins (LMS sites) allowed to embed your students' feedback pages;
    changes nothing.

    Who: admin of the organisation.
    """
    return EmbeddingRead(
        origins=organization_service.embed_origins(session, principal.organization_id)
    )


@router.put(
    "/embedding",
    response_model=EmbeddingRead,
    summary="Set the origins allowed to embed your students' feedback pages (admin)",
    openapi_extra=problems("unprocessable"),
)
def set_embedding(body: EmbeddingUpdate, session: SessionDep, principal: Admin) -> EmbeddingRead:
    """Replaces the list of origins allowed to embed your students' feedback pages.

    Who: admin of the organisation. The feedback page then answers with
    `Content-Security-Policy: frame-ancestors` naming these origins (and
    `GRADER_FRAME_ANCESTORS`), and no others. 422 `unprocessable` for an origin that is not
    https.
    """
    origins = organization_service.set_embed_origins(
        session, principal.organization_id, body.origins
    )
    return EmbeddingRead(origins=origins)
