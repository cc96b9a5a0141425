from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from service.api.deps import Instructor
from service.api.routers.common import AUTH_ERRORS
from service.domain.exports import service as export_service
from service.domain.submissions.schemas import SubmissionFilter

router = APIRouter(prefix="/v1/exports", tags=["exports"], responses=AUTH_ERRORS)

CSV_EXAMPLE = (
    ",".join(export_service.COLUMNS) + "\r\n"
    "807168fa-372a-44af-b1fb-402838885c49,photosynthesis-1,moodle-user-4821,"
    "2026-12-02T15:08:37.179698+00:00,scored,4.0,5.0,5.0,True,False,2,2.4.0,"
    '"Plants make glucose and oxygen from carbon dioxide and water, using light energy."\r\n'
)


@router.get(
    "/submissions.csv",
    summary="CSV of submissions with effective scores, filtered like the list (instructor)",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {"example": CSV_EXAMPLE}},
            "description": "UTF-8 CSV with a header row",
        }
    },
)
def export_submissions(
    request: Request,
    principal: Instructor,
    filters: Annotated[SubmissionFilter, Query()],
) -> StreamingResponse:
    """Streams a CSV of submissions with their effective scores (override, else machine
    score), filtered like `GET /v1/submissions`; changes nothing.

    Who: instructor (its courses) or admin (the organisation). UTF-8 with a header row; cells
    that a spreadsheet would run as formulas are escaped.
    """
    # Streamed from its own session: the request's session closes before the body is sent.
    rows = export_service.submission_rows(
        request.app.state.read_sessionmaker, filters, scope=principal.scope
    )
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="submissions.csv"'},
    )
