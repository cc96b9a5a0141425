"""The rubric editor: ``GET/POST /console/questions/{slug}/rubric`` (a new version on save)
and ``POST .../rubric/try`` (score an answer against the unsaved draft)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.api.deps import GradersDep, SessionDep
from service.domain.questions import service as question_service
from service.domain.questions.schemas import QuestionPublicRead, QuestionRead
from service.domain.rubrics import editor
from service.domain.rubrics import service as rubric_service
from service.domain.rubrics.editor import CriterionForm, Errors, RubricForm, TryResult
from service.domain.submissions.schemas import MAX_ANSWER_CHARS
from service.domain.validation import SLUG_PATTERN
from service.scoring import limits
from service.web.deps import ConsoleSession, Staff
from service.web.templating import render
from service.web.views import Bar

router = APIRouter(prefix="/console/questions", include_in_schema=False)

QuestionSlug = Annotated[str, Path(max_length=64, pattern=SLUG_PATTERN)]
# Generous bounds per control, above the rubric schema's real limits: a value over a Form
# bound is refused as a malformed form, one over the schema's gets its message beside the
# field (and the body-size middleware bounds the total).
_SHORT = 200
_TEXT = max(limits.MAX_PROMPT_CHARS, limits.MAX_DESCRIPTION_CHARS, limits.MAX_FEEDBACK_CHARS)
_REFERENCES = limits.MAX_REFERENCE_ANSWERS * (limits.MAX_REFERENCE_CHARS + 10)
_PHRASINGS = limits.MAX_PHRASINGS_PER_CRITERION * (limits.MAX_PHRASING_CHARS + 2)
Rows = Annotated[list[str], Form()]


def read_form(
    title: Annotated[str, Form(max_length=_SHORT * 2)] = "",
    prompt: Annotated[str, Form(max_length=_TEXT * 2)] = "",
    max_points: Annotated[str, Form(max_length=_SHORT)] = "",
    score_step: Annotated[str, Form(max_length=_SHORT)] = "",
    references: Annotated[str, Form(max_length=_REFERENCES)] = "",
    keyword_weight: Annotated[str, Form(max_length=_SHORT)] = "",
    similarity_weight: Annotated[str, Form(max_length=_SHORT)] = "",
    background: Annotated[str, Form(max_length=limits.MAX_BACKGROUND_CHARS * 2)] = "",
    criterion_id: Rows = [],  # noqa: B006
    criterion_description: Rows = [],  # noqa: B006
    criterion_weight: Rows = [],  # noqa: B006
    criterion_phrasings: Rows = [],  # noqa: B006
    criterion_hit: Rows = [],  # noqa: B006
    criterion_miss: Rows = [],  # noqa: B006
) -> RubricForm:
    """The editor's fields (a dependency of the save and try routes, which post the same
    form); each criterion row posts all six controls, so rows line up by position (a shorter
    list, from a forged form, counts as blank)."""
    columns = (
        criterion_id,
        criterion_description,
        criterion_weight,
        criterion_phrasings,
        criterion_hit,
        criterion_miss,
    )
    count = min(max(len(c) for c in columns), editor.MAX_ROWS + 1)

    def cell(column: list[str], row: int, limit: int) -> str:
        return column[row][:limit] if row < len(column) else ""

    rows = [
        CriterionForm(
            id=cell(criterion_id, i, _SHORT),
            description=cell(criterion_description, i, _TEXT),
            weight=cell(criterion_weight, i, _SHORT),
            phrasings=cell(criterion_phrasings, i, _PHRASINGS),
            hit=cell(criterion_hit, i, _TEXT),
            miss=cell(criterion_miss, i, _TEXT),
        )
        for i in range(count)
    ]
    return RubricForm(
        title=title,
        prompt=prompt,
        max_points=max_points,
        score_step=score_step,
        references=references,
        keyword_weight=keyword_weight,
        similarity_weight=similarity_weight,
        background=background,
        criteria=rows,
    )


SubmittedForm = Annotated[RubricForm, Depends(read_form)]


def _page(
    request: Request,
    active: ConsoleSession,
    question: QuestionRead | QuestionPublicRead,
    form: RubricForm,
    *,
    version: int,
    errors: Errors | None = None,
    answer: str = "",
    result: TryResult | None = None,
    saved: int | None = None,
    tried: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "console/rubric/editor.html",
        {
            "me": active,
            "nav": "home",
            "question": question,
            "form": form,
            "version": version,
            "errors": errors or {},
            "answer": answer,
            "result": result,
            "bar": Bar(result.points, result.max_points) if result else None,
            "saved": saved,
            "tried": tried,
            "limits": limits,
            "max_answer": MAX_ANSWER_CHARS,
        },
        status_code=status_code,
    )


@router.get("/{slug}/rubric", response_class=HTMLResponse)
def edit_rubric(
    request: Request,
    slug: QuestionSlug,
    session: SessionDep,
    active: ConsoleSession,
    principal: Staff,
    saved: Annotated[int | None, Query(ge=1, le=10**9)] = None,
) -> HTMLResponse:
    question = question_service.get_question(session, principal.scope, slug)
    current = rubric_service.current_version(session, question)
    return _page(
        request,
        active,
        question_service.present_question(question, full=True),
        editor.form_of(current.content),
        version=current.version,
        saved=saved,
    )


@router.post("/{slug}/rubric", response_model=None)
def save_rubric(
    request: Request,
    slug: QuestionSlug,
    session: SessionDep,
    active: ConsoleSession,
    principal: Staff,
    form: SubmittedForm,
) -> Response:
    question = question_service.get_question(session, principal.scope, slug)
    outcome, errors = editor.save(session, question, form)
    if outcome is None:
        return _page(
            request,
            active,
            question_service.present_question(question, full=True),
            form.with_blank_rows(),
            version=question.rubric_version,
            errors=errors,
            status_code=422,
        )
    return RedirectResponse(f"/console/questions/{slug}/rubric?saved={outcome.version}", 303)


@router.post("/{slug}/rubric/try", response_class=HTMLResponse)
def try_rubric(
    request: Request,
    slug: QuestionSlug,
    session: SessionDep,
    graders: GradersDep,
    active: ConsoleSession,
    principal: Staff,
    form: SubmittedForm,
    answer: Annotated[str, Form(max_length=MAX_ANSWER_CHARS * 4)] = "",
    fragment: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    """Nothing is saved. ``?fragment=true`` (the page's script) answers only the result
    region; without it the whole editor comes back with the result, for use without JS."""
    question = question_service.get_question(session, principal.scope, slug)
    result, errors = editor.try_answer(session, question, form, answer, graders)
    status = 200 if result is not None else 422
    if fragment:
        return render(
            request,
            "console/rubric/try_result.html",
            {
                "result": result,
                "bar": Bar(result.points, result.max_points) if result else None,
                "errors": errors,
            },
            status_code=status,
        )
    return _page(
        request,
        active,
        question_service.present_question(question, full=True),
        form.with_blank_rows(),
        version=question.rubric_version,
        errors=errors,
        answer=answer,
        result=result,
        tried=True,
        status_code=status,
    )
