"""The pilot's page: ``GET /console/questions/{slug}/pilot`` shows the answer to grade next
and the agreement so far; ``POST`` records a grade (the same audited override as the API)
and comes back with the next proposal, saying when the grade calibrated the question."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.api.deps import SessionDep
from service.domain.pilot import service as pilot_service
from service.domain.pilot.schemas import PilotAgreement, PilotGradeCreate, PilotRead
from service.domain.questions import service as question_service
from service.domain.validation import SLUG_PATTERN
from service.errors import DomainError
from service.scoring.pilot import INTERVAL_LEVEL
from service.web.deps import ConsoleSession
from service.web.i18n import gettext as _
from service.web.i18n import ngettext, number, percent
from service.web.routes.console.forms import points_error
from service.web.templating import render

router = APIRouter(prefix="/console", include_in_schema=False)

Slug = Annotated[str, Path(max_length=64, pattern=SLUG_PATTERN)]
FormText = Annotated[str, Form(max_length=300)]


def agreement_sentence(agreement: PilotAgreement) -> str:
    """The agreement so far in words, with the numbers it rests on."""
    n = agreement.n
    if n == 0:
        return _("You have not graded any answer of this question yet.")
    over = ngettext("over %(n)s answer", "over %(n)s answers", n) % {"n": n}
    if agreement.value is None:
        return _(
            "Agreement so far: not enough to say %(over)s (it needs 3 graded answers "
            "with different scores)."
        ) % {"over": over}
    if agreement.metric == "accuracy":
        value = _("%(share)s the same") % {"share": percent(agreement.value)}
    else:
        value = _("r = %(r)s") % {"r": number(agreement.value)}
    if agreement.low is None or agreement.high is None:
        return _("Agreement so far: %(value)s %(over)s.") % {"value": value, "over": over}
    return _("Agreement so far: %(value)s (%(level)s%% interval %(low)s to %(high)s) %(over)s.") % {
        "value": value,
        "level": number(INTERVAL_LEVEL * 100, 0),
        "low": number(agreement.low),
        "high": number(agreement.high),
        "over": over,
    }


def _page(
    request: Request,
    active: ConsoleSession,
    slug: str,
    title: str,
    state: PilotRead,
    *,
    calibrated_version: int | None = None,
    graded: bool = False,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "console/question/pilot.html",
        {
            "me": active,
            "nav": "home",
            "slug": slug,
            "title": title,
            "state": state,
            "sentence": agreement_sentence(state.agreement),
            "level": number(INTERVAL_LEVEL * 100, 0),
            "calibrated_version": calibrated_version,
            "graded": graded,
            "errors": errors or {},
            "values": values or {},
        },
        status_code=status_code,
    )


@router.get("/questions/{slug}/pilot", response_class=HTMLResponse)
def pilot_page(
    request: Request,
    slug: Slug,
    session: SessionDep,
    active: ConsoleSession,
    graded: Annotated[bool, Query()] = False,
    calibrated: Annotated[int | None, Query(ge=1, le=10**9)] = None,
) -> HTMLResponse:
    question = question_service.get_question(session, active.principal.scope, slug)
    state = pilot_service.state(session, question)
    # The notice only for the version the question really carries (a link cannot claim one).
    shown = calibrated if state.calibrated and state.calibrated.version == calibrated else None
    return _page(
        request, active, slug, question.title, state, calibrated_version=shown, graded=graded
    )


@router.post("/questions/{slug}/pilot", response_model=None)
def pilot_grade(
    request: Request,
    slug: Slug,
    session: SessionDep,
    active: ConsoleSession,
    submission_id: FormText = "",
    points: FormText = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A grade of the proposed answer; then the next proposal (post, redirect, get)."""
    question = question_service.get_question(session, active.principal.scope, slug)
    errors: dict[str, str] = {}
    if (problem := points_error(points)) is not None:
        errors["points"] = problem
    body: PilotGradeCreate | None = None
    if not errors:
        try:
            body = PilotGradeCreate.model_validate(
                {
                    "submission_id": submission_id,
                    "points": float(points),
                    "reason": reason.strip() or None,
                }
            )
        except ValidationError as exc:
            fields = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
            if "reason" in fields:
                errors["reason"] = _("This reason cannot be stored.")
            else:
                errors["points"] = _("This answer cannot be graded here; reload the page.")
    state: PilotRead | None = None
    if body is not None:
        try:
            state = pilot_service.grade(session, question, body, principal=active.principal)
        except DomainError as exc:
            if exc.status_code != 422:
                raise
            errors["points"] = str(exc)
    if state is None:
        session.rollback()
        return _page(
            request,
            active,
            slug,
            question.title,
            pilot_service.state(session, question),
            errors=errors,
            values={"points": points, "reason": reason},
            status_code=422,
        )
    target = f"/console/questions/{slug}/pilot?graded=true"
    if state.calibrated_now and state.calibrated is not None:
        target += f"&calibrated={state.calibrated.version}"
    return RedirectResponse(target, status_code=303)
