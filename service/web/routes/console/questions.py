"""A question's pages: how it went (charts), its CSV export, rescoring with a dry run and a
progress page, and calibration from a handful of grades."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from service.api.deps import GradersDep, SessionDep
from service.domain.exports import service as export_service
from service.domain.jobs import service as job_service
from service.domain.jobs.preview import preview_rescore
from service.domain.questions import service as question_service
from service.domain.reviews import agreement as agreement_service
from service.domain.reviews import service as review_service
from service.domain.reviews.schemas import OverrideCreate
from service.domain.rubrics import service as rubric_service
from service.domain.submissions.schemas import SubmissionFilter
from service.domain.validation import SLUG_PATTERN
from service.errors import DomainError
from service.scoring.pilot import MIN_TO_CALIBRATE
from service.web.deps import ConsoleSession
from service.web.i18n import gettext as _
from service.web.templating import render
from service.web.views import histogram

router = APIRouter(prefix="/console", include_in_schema=False)

Slug = Annotated[str, Path(max_length=64, pattern=SLUG_PATTERN)]
CALIBRATION_REASON = "Graded for calibration."
# Grades sent in one calibration form at most (the page proposes 8).
MAX_GRADES = 20


def _points_label(value: float) -> str:
    return f"{value:g}"


@router.get("/questions/{slug}", response_class=HTMLResponse)
def question_page(
    request: Request, slug: Slug, session: SessionDep, active: ConsoleSession
) -> HTMLResponse:
    question = question_service.get_question(session, active.principal.scope, slug)
    stats = review_service.question_stats(session, question)
    chart = histogram([(_points_label(d.points), d.count) for d in stats.distribution])
    return render(
        request,
        "console/question/show.html",
        {
            "me": active,
            "nav": "home",
            "q": question_service.present_question(question, full=True),
            "stats": stats,
            "chart": chart,
        },
    )


@router.get("/questions/{slug}/export.csv", response_model=None)
def export_csv(
    request: Request, slug: Slug, session: SessionDep, active: ConsoleSession
) -> StreamingResponse:
    question = question_service.get_question(session, active.principal.scope, slug)
    rows = export_service.submission_rows(
        request.app.state.read_sessionmaker,
        SubmissionFilter(question_id=question.slug),
        scope=active.principal.scope,
    )
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{question.slug}.csv"'},
    )


@router.get("/questions/{slug}/rescore", response_class=HTMLResponse)
def rescore_preview(
    request: Request, slug: Slug, session: SessionDep, graders: GradersDep, active: ConsoleSession
) -> HTMLResponse:
    question = question_service.get_question(session, active.principal.scope, slug)
    preview = preview_rescore(session, question, graders)
    return render(
        request,
        "console/question/rescore.html",
        {
            "me": active,
            "nav": "home",
            "slug": slug,
            "title": question.title,
            "p": preview,
            "before": histogram([(_points_label(v), c) for v, c in preview.before]),
            "after": histogram([(_points_label(v), c) for v, c in preview.after]),
        },
    )


@router.post("/questions/{slug}/rescore", response_model=None)
def rescore_start(slug: Slug, session: SessionDep, active: ConsoleSession) -> Response:
    question = question_service.get_question(session, active.principal.scope, slug)
    job = job_service.create_rescore_job(session, question=question, principal=active.principal)
    return RedirectResponse(f"/console/jobs/{job.id}", status_code=303)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(
    request: Request, job_id: uuid.UUID, session: SessionDep, active: ConsoleSession
) -> HTMLResponse:
    job = job_service.present_job(job_service.get_job(session, active.principal.scope, job_id))
    return render(
        request,
        "console/question/job.html",
        {"me": active, "nav": "home", "job": job, "running": job.status in ("queued", "running")},
    )


def _calibration_page(
    request: Request,
    session: SessionDep,
    active: ConsoleSession,
    slug: str,
    *,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    question = question_service.get_question(session, active.principal.scope, slug)
    return render(
        request,
        "console/question/calibrate.html",
        {
            "me": active,
            "nav": "home",
            "slug": slug,
            "title": question.title,
            "max_points": question.max_points,
            "candidates": agreement_service.candidates(session, question),
            "agreement": agreement_service.agreement(session, question),
            # A few-shot calibration fits from this many (a full one from MIN_EXAMPLES).
            "min_examples": MIN_TO_CALIBRATE,
            "errors": errors or {},
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/questions/{slug}/calibrate", response_class=HTMLResponse)
def calibrate_page(
    request: Request, slug: Slug, session: SessionDep, active: ConsoleSession
) -> HTMLResponse:
    return _calibration_page(request, session, active, slug)


def _grades(form: FormData) -> tuple[list[tuple[uuid.UUID, float]], dict[str, str]]:
    grades: list[tuple[uuid.UUID, float]] = []
    errors: dict[str, str] = {}
    for name, value in list(form.multi_items())[: MAX_GRADES * 2 + 2]:
        if not name.startswith("points-") or not isinstance(value, str) or not value.strip():
            continue
        try:
            submission_id = uuid.UUID(name.removeprefix("points-"))
        except ValueError:
            continue
        try:
            points = float(value.strip())
        except ValueError:
            errors[name] = _("Enter the points as a number, e.g. 7 or 7.5.")
            continue
        grades.append((submission_id, points))
    return grades, errors


@router.post("/questions/{slug}/calibrate", response_model=None)
async def calibrate_grades(
    request: Request, slug: Slug, session: SessionDep, active: ConsoleSession
) -> Response:
    """The grades become overrides (audited, as in the API), then the agreement is shown."""
    form = await request.form(max_fields=MAX_GRADES * 2 + 5, max_files=0)
    grades, errors = _grades(form)
    if not grades and not errors:
        errors["form"] = _("Enter points for at least one answer.")
    if not errors:
        for submission_id, points in grades:
            try:
                review_service.create_override(
                    session,
                    submission_id=submission_id,
                    body=OverrideCreate(points=points, reason=CALIBRATION_REASON),
                    principal=active.principal,
                )
            except ValidationError:
                errors[f"points-{submission_id}"] = _("Points cannot be negative.")
            except DomainError as exc:
                if exc.status_code != 422:
                    raise
                errors[f"points-{submission_id}"] = str(exc)
    if errors:
        session.rollback()
        return _calibration_page(request, session, active, slug, errors=errors, status_code=422)
    return RedirectResponse(f"/console/questions/{slug}/calibrate?graded={len(grades)}", 303)


@router.post("/questions/{slug}/calibrate/fit", response_model=None)
def calibrate_fit(
    request: Request, slug: Slug, session: SessionDep, active: ConsoleSession
) -> Response:
    question = question_service.get_question(session, active.principal.scope, slug)
    outcome = rubric_service.calibrate(session, question, extra=[], use_overrides=True)
    if outcome.calibrated:
        notice = _(
            "Saved as rubric version %(version)s, calibrated on %(n)s graded answers. "
            "Rescore to apply it to the answers already scored."
        ) % {"version": outcome.version, "n": outcome.graded_answers}
    else:
        notice = _(
            "Saved as rubric version %(version)s with %(n)s graded answers as scored examples; "
            "a calibration needs at least %(min)s."
        ) % {"version": outcome.version, "n": outcome.graded_answers, "min": MIN_TO_CALIBRATE}
    return _calibration_page(request, session, active, slug, notice=notice)
