"""The LTI 1.3 endpoints an LMS and its users' browsers call, and the pages they open in
the LMS's iframe: login initiation, the launch (redirect URI), the answer page, the
console hand-off, the deep-linking picker, Dynamic Registration and the tool's key set.

Thin: every rule is in service/integrations/lti. These paths are outside the console's
CSRF protection on purpose: the platform posts the launch from its own site, and the
forms of the pages carry the launch's capability token instead of a cookie (the browser
may drop third-party cookies inside the iframe).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.api.deps import GradersDep, SessionDep, SettingsDep
from service.api.links import public_base_url
from service.db.base import utcnow
from service.db.models import Course, LtiLaunch, Question
from service.domain.access.principal import Scope
from service.domain.questions import service as question_service
from service.domain.submissions.schemas import MAX_ANSWER_CHARS
from service.errors import DomainError, UnprocessableRequest
from service.integrations.lti import keys as lti_keys
from service.integrations.lti import registration
from service.integrations.lti import service as lti
from service.integrations.lti.claims import LaunchRole, MessageType
from service.web.deps import session_policy, set_session_cookie
from service.web.i18n import gettext as _
from service.web.templating import render

router = APIRouter(include_in_schema=True, tags=["LTI 1.3"])

STATE_COOKIE = "grader_lti_state"
REDIRECT_TO_PLATFORM: dict[int | str, dict[str, Any]] = {
    302: {"description": "To the platform's authorisation endpoint (OIDC)."}
}
PAGE_OR_REDIRECT: dict[int | str, dict[str, Any]] = {
    303: {"description": "A learner with no attempt left: to the feedback page."}
}
LAUNCH_PATH = "/lti/launch"


def _base(request: Request, settings: SettingsDep) -> str:
    return public_base_url(request, settings).rstrip("/")


def _set_state_cookie(request: Request, response: Response, state: str) -> None:
    """The login's state, for the launch to compare when the browser sends it back. In an
    iframe it is a third-party cookie: SameSite=None (https only), and the launch does not
    depend on it (see service/integrations/lti/service.py)."""
    https = request.url.scheme == "https"
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=lti.STATE_SECONDS,
        httponly=True,
        secure=https,
        samesite="none" if https else "lax",
        path="/lti/",
    )


async def _login(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form(max_files=0, max_fields=20)
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    base = _base(request, settings)
    redirect = lti.begin_login(session, params, redirect_uri=base + LAUNCH_PATH, tool_base_url=base)
    response = RedirectResponse(redirect.url, status_code=302)
    _set_state_cookie(request, response, redirect.state)
    return response


@router.get(
    "/lti/login",
    summary="LTI OIDC login initiation (GET)",
    status_code=302,
    response_class=RedirectResponse,
    responses=REDIRECT_TO_PLATFORM,
)
async def login_get(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Third-party initiated login: the platform sends `iss`, `login_hint`,
    `target_link_uri` (and `lti_message_hint`, `client_id`, `lti_deployment_id`); the tool
    answers with a redirect to the platform's authorisation endpoint."""
    return await _login(request, session, settings)


@router.post(
    "/lti/login",
    summary="LTI OIDC login initiation (POST)",
    status_code=302,
    response_class=RedirectResponse,
    responses=REDIRECT_TO_PLATFORM,
)
async def login_post(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The same login initiation with its parameters in a form body (platforms may use
    either); query parameters are read too. No key: the platform is recognised by `iss` (and
    `client_id`) among the registered ones."""
    return await _login(request, session, settings)


def _content_lang(question: Question) -> str:
    return question.language or "en"


def _answer_page(
    request: Request,
    opened_token: str,
    question: Question,
    *,
    name: str,
    attempt: int,
    frame_ancestors: list[str],
    answer: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "lti/answer.html",
        {
            "question": question,
            "launch_token": opened_token,
            "max_attempts": question.max_attempts,
            "attempt": attempt,
            "max_chars": MAX_ANSWER_CHARS,
            "name": name,
            "answer": answer,
            "error": error,
            "content_lang": _content_lang(question),
        },
        status_code=status_code,
        frame_ancestors=frame_ancestors,
    )


@router.post(
    LAUNCH_PATH,
    summary="LTI launch (the redirect URI, form_post)",
    response_class=HTMLResponse,
    responses=PAGE_OR_REDIRECT,
)
def launch(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    id_token: Annotated[str | None, Form(max_length=65536)] = None,
    state: Annotated[str | None, Form(max_length=2048)] = None,
    error: Annotated[str | None, Form(max_length=200)] = None,
    error_description: Annotated[str | None, Form(max_length=1000)] = None,
) -> Response:
    """The platform's signed id_token: verified, then the page it opens (a learner's
    answer page, an instructor's hand-off to the console, the deep-linking picker)."""
    if error:
        described = f"{error}: {error_description}" if error_description else error
        raise lti.LaunchRejected(f"The LMS did not sign you in ({described}).")
    now = utcnow()
    verified = lti.verify_launch(
        session,
        settings,
        id_token=id_token or "",
        state=state or "",
        cookie_state=request.cookies.get(STATE_COOKIE),
        now=now,
    )
    opened = lti.open_launch(session, settings, verified, now=now)
    launch_row = opened.launch
    if launch_row.message_type == MessageType.DEEP_LINKING:
        return _picker(request, session, launch_row, opened.token, opened.platform_origins)
    question = opened.question
    assert question is not None
    if launch_row.role == LaunchRole.INSTRUCTOR:
        if opened.in_window:
            # A top-level window: the console's own cookie works, so sign in right away.
            return _to_console(request, session, settings, launch_row, question)
        return render(
            request,
            "lti/instructor.html",
            {
                "question": question,
                "launch_token": opened.token,
                "name": launch_row.display_name,
                "content_lang": _content_lang(question),
            },
            frame_ancestors=opened.platform_origins,
        )
    feedback = lti.feedback_of_latest(session, launch_row)
    if feedback is not None:
        return RedirectResponse(f"/v1/feedback/{feedback}", status_code=303)
    attempts = len(lti.attempts_of(session, launch_row))
    return _answer_page(
        request,
        opened.token,
        question,
        name=launch_row.display_name,
        attempt=attempts + 1,
        frame_ancestors=opened.platform_origins,
    )


def _to_console(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    launch_row: LtiLaunch,
    question: Question,
) -> Response:
    signed_in = lti.console_sign_in(
        session, launch_row, policy=session_policy(settings), now=utcnow()
    )
    response = RedirectResponse(f"/console/questions/{question.slug}", status_code=303)
    set_session_cookie(request, response, signed_in.token)
    return response


@router.post(
    "/lti/console",
    summary="Open the console from an instructor's launch",
    status_code=303,
    response_class=RedirectResponse,
)
def console(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    launch: Annotated[str, Form(max_length=128)],
) -> Response:
    """The instructor's launch page posts here in a new window (first-party: its session
    cookie works where the iframe's would be dropped). The launch token works once."""
    launch_row = lti.launch_for(session, launch, now=utcnow())
    link_question = lti.question_of(session, launch_row)
    return _to_console(request, session, settings, launch_row, link_question)


@router.post(
    "/lti/answer",
    summary="A learner's answer from the LTI answer page",
    status_code=303,
    response_class=RedirectResponse,
)
def answer(
    request: Request,
    session: SessionDep,
    graders: GradersDep,
    settings: SettingsDep,
    launch: Annotated[str, Form(max_length=128)],
    answer: Annotated[str, Form(max_length=4 * MAX_ANSWER_CHARS)] = "",
) -> Response:
    """The answer page's form: the launch's own token (no cookie, no key) says who answers.
    Stores and scores the answer like `POST /v1/submissions`, queues its score for the LMS
    gradebook and redirects to the feedback page; with no attempt left, stores nothing and
    redirects to the feedback of the attempt that counts. A bad answer (too long) shows the
    page again with the message (422)."""
    now = utcnow()
    launch_row = lti.launch_for(session, launch, now=now)
    try:
        answered = lti.submit_answer(
            session, graders=graders, launch=launch_row, answer=answer, now=now
        )
    except UnprocessableRequest as exc:
        question = lti.question_of(session, launch_row)
        return _answer_page(
            request,
            launch,
            question,
            name=launch_row.display_name,
            attempt=len(lti.attempts_of(session, launch_row)) + 1,
            frame_ancestors=lti.frame_origins(session, launch_row.organization_id),
            answer=answer[:MAX_ANSWER_CHARS],
            error=exc.detail,
            status_code=422,
        )
    return RedirectResponse(f"/v1/feedback/{answered.feedback_token}", status_code=303)


def _picker(
    request: Request,
    session: SessionDep,
    launch_row: LtiLaunch,
    token: str,
    frame_ancestors: list[str],
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    course = session.get(Course, launch_row.course_id)
    return render(
        request,
        "lti/pick.html",
        {
            "launch_token": token,
            "course_title": course.title if course else "",
            "questions": lti.course_questions(session, launch_row),
            "form": form or {"title": "", "prompt": "", "reference": "", "points": "10"},
            "errors": errors or {},
        },
        status_code=status_code,
        frame_ancestors=frame_ancestors,
    )


@router.post(
    "/lti/deep-link",
    summary="Place a question in the LMS (deep-linking response)",
    response_class=HTMLResponse,
)
def deep_link(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    launch: Annotated[str, Form(max_length=128)],
    question_id: Annotated[str | None, Form(max_length=64)] = None,
    create: Annotated[str | None, Form(max_length=1)] = None,
    title: Annotated[str, Form(max_length=400)] = "",
    prompt: Annotated[str, Form(max_length=4000)] = "",
    reference: Annotated[str, Form(max_length=10000)] = "",
    points: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The picker's choice (or a new question made from a prompt and a reference answer)
    goes back to the platform as a signed ``LtiDeepLinkingResponse``, posted by the
    browser (an auto-submitting form)."""
    now = utcnow()
    launch_row = lti.launch_for(session, launch, now=now)
    origins = lti.frame_origins(session, launch_row.organization_id)
    if create:
        form = {"title": title, "prompt": prompt, "reference": reference, "points": points}
        errors = _new_question_errors(form)
        question: Question | None = None
        if not errors:
            try:
                question = lti.create_question_from_prompt(
                    session,
                    launch_row,
                    title=title.strip(),
                    prompt=prompt.strip(),
                    reference=reference.strip(),
                    points=float(points),
                )
            except DomainError as exc:
                errors = {"form": exc.detail}
        if question is None:
            return _picker(
                request,
                session,
                launch_row,
                launch,
                origins,
                form=form,
                errors=errors,
                status_code=422,
            )
    else:
        question = question_service.get_question(
            session, Scope.organization(launch_row.organization_id), question_id or ""
        )
    base = _base(request, settings)
    response = lti.deep_link(
        session, settings, launch_row, question, launch_url=base + LAUNCH_PATH, now=now
    )
    return render(
        request,
        "lti/handoff.html",
        {
            "title": _("Adding %(title)s to the course") % {"title": response.title},
            "action": response.return_url,
            "fields": [("JWT", response.jwt)],
        },
        frame_ancestors=origins,
        form_targets=[lti.origin_of(response.return_url) or ""],
    )


def _new_question_errors(form: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not form["title"].strip() or len(form["title"]) > 200:
        errors["title"] = _("Give the question a title of at most 200 characters.")
    if not form["prompt"].strip() or len(form["prompt"]) > 2000:
        errors["prompt"] = _("Write the question, at most 2000 characters.")
    if not form["reference"].strip() or len(form["reference"]) > 5000:
        errors["reference"] = _("Write a reference answer, at most 5000 characters.")
    try:
        value = float(form["points"])
        if not 0 < value <= 1000:
            raise ValueError
    except ValueError:
        errors["points"] = _("Points are a number above 0 and at most 1000.")
    return errors


@router.get(
    "/lti/register",
    summary="LTI Dynamic Registration (opened by the LMS)",
    response_class=HTMLResponse,
)
def register(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    invite: Annotated[str | None, Query(max_length=128)] = None,
    openid_configuration: Annotated[str | None, Query(max_length=2048)] = None,
    registration_token: Annotated[str | None, Query(max_length=4096)] = None,
) -> HTMLResponse:
    """The URL an admin pastes into the LMS (with its one-time `invite`, from
    `POST /v1/lti/registrations`). The LMS opens it with `openid_configuration` and
    `registration_token`; the tool registers itself and stores the platform."""
    platform = registration.register(
        session,
        settings,
        invite_token=invite,
        openid_configuration=openid_configuration,
        registration_token=registration_token,
        tool_base_url=_base(request, settings),
        now=utcnow(),
    )
    return render(
        request,
        "lti/registered.html",
        {"platform": platform},
        frame_ancestors=lti.frame_origins(session, platform.organization_id),
    )


@router.get(
    "/.well-known/jwks.json",
    summary="The tool's public keys (JWKS)",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "keys": [
                            {
                                "kty": "RSA",
                                "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbf",
                                "e": "AQAB",
                                "kid": "5fc9d8c709f42339bfda5e7a63d84afc",
                                "alg": "RS256",
                                "use": "sig",
                            }
                        ]
                    }
                }
            }
        }
    },
)
def jwks(session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """Platforms verify the tool's signatures (AGS token requests, deep-linking responses)
    with these keys; a rotated key stays listed until what it signed has expired."""
    return JSONResponse(
        lti_keys.key_set(session, settings, now=utcnow()),
        headers={"cache-control": "public, max-age=300"},
    )
