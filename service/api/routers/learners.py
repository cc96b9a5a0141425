"""One learner's data: export and delete (admin of the learner's organisation)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from service.api.deps import Admin, SessionDep, SettingsDep
from service.api.routers.common import AUTH_ERRORS, NOT_FOUND
from service.domain.learners import service as learner_service
from service.domain.learners.schemas import LearnerDeleted, LearnerExport
from service.domain.submissions.schemas import LearnerId

router = APIRouter(prefix="/v1/learners", tags=["learners"], responses=AUTH_ERRORS)

# The LMS's opaque id, URL-encoded: it may contain "/" (``%2F``), hence the path converter.
LearnerPath = Annotated[LearnerId, Path(description="The learner id the LMS sent, URL-encoded.")]


@router.get(
    "/{learner_id:path}/export",
    response_model=LearnerExport,
    summary="Everything stored about one learner of your organisation (admin)",
    responses=NOT_FOUND,
)
def export_learner(learner_id: LearnerPath, session: SessionDep, principal: Admin) -> LearnerExport:
    """Returns everything stored about one learner of your organisation (submissions,
    results, overrides, deliveries); changes nothing.

    Who: admin. For a data subject's access request. 404 when nothing is stored.
    """
    return learner_service.export_learner(session, principal, learner_id)


@router.delete(
    "/{learner_id:path}",
    response_model=LearnerDeleted,
    summary="Delete everything stored about one learner of your organisation (admin)",
    responses=NOT_FOUND,
)
def delete_learner(
    learner_id: LearnerPath, session: SessionDep, settings: SettingsDep, principal: Admin
) -> LearnerDeleted:
    """Deletes everything stored about one learner of your organisation.

    Who: admin. Submissions, results, overrides, deliveries, feedback links, idempotency
    records and copies in calibration data; an audit row keeps counts, not content. 404 when
    nothing is stored.
    """
    key = settings.audit_hmac_key
    return learner_service.delete_learner(
        session,
        principal,
        learner_id,
        hmac_key=key.get_secret_value().encode() if key is not None else None,
    )
