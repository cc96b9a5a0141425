"""The bare endpoint that bench/http_load.py compares POST /v1/submissions against.

It stores the answer and nothing else: the same body validation, session dependency, table
and commit, but no authentication, idempotency record, scoring or callback. Mounted only
when ``GRADER_BENCH_ENDPOINTS=true``, so production never exposes an unauthenticated write.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel

from service.api.deps import SessionDep
from service.db.models import Submission
from service.domain.access.principal import Scope
from service.domain.organizations import service as organization_service
from service.domain.questions import service as question_service
from service.domain.submissions.repository import SubmissionRepository
from service.domain.submissions.schemas import SubmissionCreate

NEVER_DUE = datetime(9999, 1, 1, tzinfo=UTC)

router = APIRouter(prefix="/v1/_bench", tags=["benchmark"], include_in_schema=False)


class BareStored(BaseModel):
    id: uuid.UUID


@router.post("/submissions", status_code=201, response_model=BareStored)
def store_submission(body: SubmissionCreate, session: SessionDep) -> BareStored:
    # The question (of the default organisation) is looked up, as the full path must too.
    home = organization_service.ensure_default_organization(session)
    question = question_service.get_question(
        session, Scope.organization(home.organization.id), body.question_id
    )
    submission = Submission(
        question_id=question.id,
        organization_id=question.organization_id,
        course_id=question.course_id,
        learner_id=body.learner_id,
        answer=body.answer,
        status="pending",
        # Never due: without this the worker thread scored every bare row in the background,
        # so the bare endpoint's backlog took CPU from whichever endpoint ran next (68% of the
        # busy samples of a full-path run on SQLite, bench/http_load.py --profile).
        next_scoring_at=NEVER_DUE,
    )
    SubmissionRepository(session, Scope.system()).add(submission)
    session.flush()
    return BareStored(id=submission.id)
