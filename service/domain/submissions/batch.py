"""Batches from an LMS: every item validated and stored on its own, so one bad item never
costs the good ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from service.db.models import Submission
from service.domain.access.principal import Principal
from service.domain.rubrics.service import GraderCache
from service.domain.submissions import service as submission_service
from service.domain.submissions.schemas import SubmissionCreate
from service.errors import DomainError, problem

# Errors listed per item: the cap ``service.api.problems.MAX_LISTED_ERRORS`` puts on a
# request's own list (the domain does not import the API layer; a test keeps them equal).
MAX_LISTED_ERRORS = 20


@dataclass(frozen=True)
class ItemOutcome:
    """One item's fate: a stored submission, or a problem document saying what was wrong."""

    index: int
    status: int
    submission: Submission | None = None
    error: dict[str, Any] | None = None


def submit_batch(
    session: Session, *, graders: GraderCache, principal: Principal, items: Sequence[Any]
) -> list[ItemOutcome]:
    return [
        _submit_item(session, graders, principal, index, item) for index, item in enumerate(items)
    ]


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "item"


def _submit_item(
    session: Session, graders: GraderCache, principal: Principal, index: int, item: Any
) -> ItemOutcome:
    try:
        body = SubmissionCreate.model_validate(item)
    except ValidationError as exc:
        found = exc.errors()
        # Capped like a request's own errors: an item with thousands of bad fields must not
        # make the batch response many times the size of the request.
        errors = [
            {"field": _field(e["loc"]), "message": e["msg"]} for e in found[:MAX_LISTED_ERRORS]
        ]
        if len(found) > MAX_LISTED_ERRORS:
            left = len(found) - MAX_LISTED_ERRORS
            errors.append({"field": "item", "message": f"{left} more errors not listed"})
        detail = f"{errors[0]['field']}: {errors[0]['message']}"
        return ItemOutcome(
            index,
            422,
            error=problem(
                status=422,
                code="validation_error",
                title="Invalid request",
                detail=detail,
                errors=errors,
            ),
        )
    try:
        # A savepoint per item: an item that fails leaves nothing behind, the others stay.
        with session.begin_nested():
            submission = submission_service.create_submission(
                session, graders=graders, body=body, principal=principal
            )
    except DomainError as exc:
        return ItemOutcome(
            index,
            exc.status_code,
            error=problem(
                status=exc.status_code, code=exc.code, title=exc.title, detail=exc.detail
            ),
        )
    return ItemOutcome(index, 201 if submission.status == "scored" else 202, submission)
