"""``GET /console``: the courses and questions the signed-in person may see."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from service.api.deps import SessionDep
from service.domain.courses.overview import OverviewRepository
from service.web.deps import ConsoleSession
from service.web.templating import render

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, active: ConsoleSession) -> HTMLResponse:
    courses = OverviewRepository(session, active.principal.scope).courses()
    return render(request, "console/home.html", {"me": active, "courses": courses})
