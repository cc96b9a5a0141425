"""The bare endpoint that bench/http_load.py compares POST /v1/submissions against.

It stores the answer and nothing else: the same body validation, session dependency, table
and commit, but no authentication, idempotency record, scoring or callback. Mounted only
when ``GRADER_BENCH_ENDPOINTS=true``, so production never exposes an unauthenticated write.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel

from service.api.deps import SessionDep
from service.db.models import Submission
from service.domain.submissions.repository import SubmissionRepository
from service.domain.submissions.schemas import SubmissionCreate

router = APIRouter(prefix="/v1/_bench", tags=["benchmark"], include_in_schema=False)


class BareStored(BaseModel):
    id: uuid.UUID


@router.post("/submissions", status_code=201, response_model=BareStored)
def store_submission(body: SubmissionCreate, session: SessionDep) -> BareStored:
    submission = Submission(
        question_id=body.question_id,
        learner_id=body.learner_id,
        answer=body.answer,
        status="pending",
    )
    SubmissionRepository(session).add(submission)
    session.flush()
    return BareStored(id=submission.id)
