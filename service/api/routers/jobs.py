from __future__ import annotations

import uuid

from fastapi import APIRouter

from service.api.deps import Instructor, SessionDep
from service.api.routers.common import AUTH_ERRORS, NOT_FOUND
from service.domain.jobs import service as job_service
from service.domain.jobs.schemas import JobRead

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=AUTH_ERRORS)


@router.get(
    "/{job_id}", response_model=JobRead, summary="A background job's progress", responses=NOT_FOUND
)
def get_job(job_id: uuid.UUID, session: SessionDep, principal: Instructor) -> JobRead:
    """Returns a background job's progress (rescoring): status, counts done and failed;
    changes nothing.

    Who: instructor of the question's course, or admin.
    """
    return job_service.present_job(job_service.get_job(session, principal.scope, job_id))
