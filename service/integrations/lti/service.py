"""LTI 1.3 launches: the OIDC login, verifying the id_token, and what a verified launch
opens (the answer page, the console, the deep-linking picker).

State without cookies: inside an LMS iframe the browser may drop every cookie we set, so
the login's ``state`` is itself verifiable: a short-lived JWT signed with a deployment
secret naming the platform and the nonce. A cookie holding the state is set as well and,
when the browser sends it back, must match (it binds the launch to the browser that
started it where the browser allows); when it is absent the signed state and the
single-use nonce still refuse forged and replayed launches.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.config import Settings
from service.db.models import (
    Course,
    LtiContext,
    LtiDeployment,
    LtiLaunch,
    LtiPlatform,
    LtiResourceLink,
    Question,
    Submission,
)
from service.db.session import end_read_phase
from service.domain.access.principal import Principal, Role, Scope, Via
from service.domain.callbacks.destinations import DestinationPolicy, DestinationRefused
from service.domain.callbacks.transport import SendFailed, default_client, send
from service.domain.questions.repository import QuestionRepository
from service.domain.rubrics import service as rubric_service
from service.domain.rubrics.service import GraderCache
from service.domain.sessions import service as session_service
from service.domain.sessions.service import SessionPolicy, SignedIn
from service.domain.submissions import service as submission_service
from service.domain.submissions.schemas import SubmissionCreate
from service.errors import Conflict, DomainError, NotFound, UnprocessableRequest
from service.integrations.lti import ags, claims, tokens
from service.integrations.lti import keys as lti_keys
from service.integrations.lti.claims import LaunchRole, MessageType
from service.integrations.lti.repository import LaunchRepository, PlatformRepository

log = logging.getLogger(__name__)

STATE_SECRET = "lti-state"
STATE_SECONDS = 600
# A launch naming an unknown kid refetches the platform's key set, at most this often: a
# stream of forged kids must not turn into a stream of fetches.
JWKS_REFETCH_SECONDS = 10.0
MAX_JWKS_BYTES = 256 * 1024
FETCH_TIMEOUT_SECONDS = 5.0
FETCH_CONNECT_TIMEOUT_SECONDS = 3.0
_SLUG_SAFE = re.compile(r"[^a-z0-9-]+")


class LaunchRejected(DomainError):
    """An LTI message that may not be used: a page saying why, in the LMS's iframe."""

    status_code = 400
    code = "lti_launch_rejected"
    title = "This launch cannot be used"


class LaunchForbidden(LaunchRejected):
    status_code = 403
    code = "lti_forbidden"
    title = "Not available to you"


def outbound_policy(settings: Settings) -> DestinationPolicy:
    """Platform URLs follow the callbacks' rules (public https unless allowed)."""
    return DestinationPolicy.configure(
        allow_http=settings.callback_allow_http, allowed=settings.callback_allowed_hosts
    )


# A launch's and an invitation's tokens are stored as their SHA-256, as sessions' are.
hash_token = session_service.hash_token


def platform_client() -> httpx.Client:
    """The client for fetching from a platform (key set, configuration): short timeouts,
    no redirects, no proxy from the environment (``transport.default_client``)."""
    return default_client(FETCH_TIMEOUT_SECONDS, FETCH_CONNECT_TIMEOUT_SECONDS)


def origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def frame_origins(session: Session, organization_id: uuid.UUID) -> list[str]:
    """The organisation's LMS origins: its LTI pages (and feedback pages) may be framed
    there."""
    found: set[str] = set()
    for issuer, login in PlatformRepository(session, Scope.system()).origins_of_organization(
        organization_id
    ):
        found.update(o for o in (origin_of(issuer), origin_of(login)) if o)
    return sorted(found)


# ---------------------------------------------------------------------------- login


@dataclass(frozen=True)
class LoginRedirect:
    url: str
    state: str
    platform_origins: list[str]


def _state_secret(session: Session) -> str:
    return session_service.deployment_secret(session, STATE_SECRET)


def begin_login(
    session: Session, params: Mapping[str, str], *, redirect_uri: str, tool_base_url: str
) -> LoginRedirect:
    """The OIDC third-party initiated login: check who asks, answer with the redirect to the
    platform's authorisation endpoint (LTI Core 1.3 section 5.1.1)."""
    issuer = params.get("iss", "").strip()
    login_hint = params.get("login_hint", "")
    target = params.get("target_link_uri", "")
    if not issuer or not login_hint or not target:
        raise LaunchRejected(
            "The login request must name iss, login_hint and target_link_uri: start the "
            "activity from your LMS."
        )
    if len(login_hint) > 2048 or len(params.get("lti_message_hint", "")) > 4096:
        raise LaunchRejected("The login request's hints are too long.")
    if origin_of(target) != origin_of(tool_base_url):
        raise LaunchRejected("The login's target_link_uri is not a page of this tool.")
    client_id = params.get("client_id") or None
    found = PlatformRepository(session, Scope.system()).by_issuer(issuer, client_id)
    if not found:
        raise LaunchRejected(
            "This LMS is not registered with the grading service; ask your administrator "
            "to register it (README: Connect your LMS)."
        )
    if len(found) > 1:
        raise LaunchRejected(
            "Several registrations share this issuer; the login must name client_id."
        )
    platform = found[0]
    deployment = params.get("lti_deployment_id")
    repo = PlatformRepository(session, Scope.system())
    if deployment and not repo.has_deployment(platform.id, deployment):
        raise LaunchRejected("This deployment of the tool is not registered.")
    nonce = secrets.token_urlsafe(24)
    now = int(time.time())
    state = jwt.encode(
        {"p": str(platform.id), "n": nonce, "iat": now, "exp": now + STATE_SECONDS},
        _state_secret(session),
        algorithm="HS256",
    )
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": redirect_uri,
        "login_hint": login_hint,
        "state": state,
        "nonce": nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in platform.auth_login_url else "?"
    return LoginRedirect(
        url=platform.auth_login_url + separator + urlencode(query),
        state=state,
        platform_origins=frame_origins(session, platform.organization_id),
    )


def _read_state(session: Session, state: str) -> tuple[uuid.UUID, str]:
    if not state or len(state) > 2048:
        raise LaunchRejected("The launch carried no state: start the activity from your LMS.")
    try:
        data = jwt.decode(state, _state_secret(session), algorithms=["HS256"])
        return uuid.UUID(str(data["p"])), str(data["n"])
    except jwt.ExpiredSignatureError:
        raise LaunchRejected("The login took too long; launch the activity again.") from None
    except (jwt.PyJWTError, KeyError, ValueError):
        raise LaunchRejected("The launch's state was not made by this tool.") from None


# --------------------------------------------------------------------------- launch


@dataclass(frozen=True)
class VerifiedLaunch:
    platform: LtiPlatform
    claims: dict[str, Any]

    @property
    def message_type(self) -> MessageType:
        return MessageType(self.claims[claims.MESSAGE_TYPE])


def _fetch_key_set(platform: LtiPlatform, settings: Settings) -> dict[str, Any] | None:
    try:
        response = send(
            "GET",
            platform.jwks_url,
            destinations=outbound_policy(settings),
            make_client=platform_client,
            headers={"Accept": "application/json"},
            max_body_bytes=MAX_JWKS_BYTES,
        )
    except SendFailed as exc:
        log.warning("platform %s: fetching its key set failed (%s)", platform.id, exc.reason)
        return None
    if response.status_code != 200:
        log.warning("platform %s: its key set answered %d", platform.id, response.status_code)
        return None
    try:
        data = json.loads(response.body)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        return None
    return {"keys": [k for k in data["keys"] if isinstance(k, dict)][:50]}


def _find(key_set: Mapping[str, Any] | None, kid: str | None) -> dict[str, Any] | None:
    if not key_set:
        return None
    keys = [k for k in key_set.get("keys", []) if k.get("kty") == "RSA"]
    if kid is None:
        return keys[0] if len(keys) == 1 else None  # without a kid only an unambiguous key
    return next((k for k in keys if k.get("kid") == kid), None)


def verify_launch(
    session: Session,
    settings: Settings,
    *,
    id_token: str,
    state: str,
    cookie_state: str | None,
    now: datetime,
) -> VerifiedLaunch:
    """Every check of the id_token (signature against the platform's key set, iss, aud,
    azp, exp/iat, nonce once, state, deployment, message type and version). Nothing is
    written unless all pass (the nonce is recorded last, in the caller's transaction)."""
    platform_id, nonce = _read_state(session, state)
    if cookie_state is not None and not secrets.compare_digest(cookie_state, state):
        raise LaunchRejected("This launch was started in another browser window; launch again.")
    platform = PlatformRepository(session, Scope.system()).get(platform_id)
    if platform is None:
        raise LaunchRejected("The LMS that started this launch is no longer registered.")
    try:
        kid = tokens.unverified_kid(id_token)
        key_set = platform.jwks
        if _find(key_set, kid) is None and _may_refetch(platform, now):
            # The fetch is network I/O: no transaction (nor SQLite's write lock) is held.
            end_read_phase(session)
            fetched = _fetch_key_set(platform, settings)
            platform.jwks_fetched_at = now
            if fetched is not None:
                platform.jwks = fetched
                key_set = fetched
        verified = tokens.verify_id_token(
            id_token,
            key_for=lambda wanted: _find(key_set, wanted),
            issuer=platform.issuer,
            client_id=platform.client_id,
            nonce=nonce,
        )
    except tokens.TokenRejected as exc:
        raise LaunchRejected(str(exc)) from None
    deployment = str(verified[claims.DEPLOYMENT_ID])
    if not PlatformRepository(session, Scope.system()).has_deployment(platform.id, deployment):
        raise LaunchRejected("This deployment of the tool is not registered with the service.")
    expires = datetime.fromtimestamp(float(verified["exp"]), tz=now.tzinfo) + timedelta(
        seconds=tokens.LEEWAY_SECONDS
    )
    try:
        with session.begin_nested():
            LaunchRepository(session).add_nonce(platform.id, nonce, expires)
    except IntegrityError:
        raise LaunchRejected("This launch was already used; launch the activity again.") from None
    return VerifiedLaunch(platform, verified)


# When each process last fetched a platform's key set. The stored ``jwks_fetched_at`` is
# rolled back with a refused launch, so on its own it would let a stream of forged kids
# trigger a fetch each; this throttle is per process (a replica fetching once more is fine).
_last_fetch: dict[uuid.UUID, float] = {}


def _may_refetch(platform: LtiPlatform, now: datetime) -> bool:
    fetched = platform.jwks_fetched_at
    if fetched is not None and (now - fetched).total_seconds() < JWKS_REFETCH_SECONDS:
        return False
    last = _last_fetch.get(platform.id)
    if last is not None and time.monotonic() - last < JWKS_REFETCH_SECONDS:
        return False
    if len(_last_fetch) > 10_000:  # bounded: platforms are few; a leak is not
        _last_fetch.clear()
    _last_fetch[platform.id] = time.monotonic()
    return True


@dataclass(frozen=True)
class Opened:
    """What a verified launch opens. ``token`` is the launch's capability (for the forms of
    the pages it opens); ``session`` a console sign-in for an instructor's launch."""

    launch: LtiLaunch
    token: str
    question: Question | None
    platform_origins: list[str]
    in_window: bool


def _text(value: object, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _course_for(session: Session, platform: LtiPlatform, context: object) -> Course:
    """The course this LMS context became (made on its first launch, with its title)."""
    if not isinstance(context, dict) or not _text(context.get("id"), 255):
        raise LaunchRejected("The launch names no course (context); launch it from a course.")
    context_id = str(context["id"])
    repo = LaunchRepository(session)
    known = repo.context(platform.id, context_id)
    if known is not None:
        course = session.get(Course, known.course_id)
        if course is not None:
            title = _text(context.get("title"), 200)
            if title and course.title != title:
                course.title = title  # renamed in the LMS
            return course
    digest = hashlib.sha256(f"{platform.id}:{context_id}".encode()).hexdigest()[:12]
    label = _SLUG_SAFE.sub("-", str(context.get("label") or "").lower()).strip("-")[:40]
    course = Course(
        id=uuid.uuid4(),
        organization_id=platform.organization_id,
        slug=f"lti-{label + '-' if label else ''}{digest}",
        title=_text(context.get("title"), 200) or _text(context.get("label"), 200) or context_id,
    )
    session.add(course)
    repo.add(LtiContext(platform_id=platform.id, context_id=context_id, course_id=course.id))
    log.info("LTI context of platform %s became course %s", platform.id, course.slug)
    return course


def _question_in(session: Session, organization_id: uuid.UUID, slug: object) -> Question | None:
    if not isinstance(slug, str) or not slug or len(slug) > 64:
        return None
    return QuestionRepository(session, Scope.organization(organization_id)).get_by_slug(slug)


def _resource_link(
    session: Session, verified: VerifiedLaunch, course: Course, role: LaunchRole
) -> LtiResourceLink:
    platform, data = verified.platform, verified.claims
    link_claim = data[claims.RESOURCE_LINK]
    link_id = str(link_claim["id"])
    repo = LaunchRepository(session)
    link = repo.resource_link(platform.id, link_id)
    custom = data.get(claims.CUSTOM)
    wanted = custom.get(claims.CUSTOM_QUESTION) if isinstance(custom, dict) else None
    if link is None:
        question = _question_in(session, platform.organization_id, wanted)
        if question is None:
            hint = (
                " Add it again through the tool's activity picker (deep linking)."
                if role is LaunchRole.INSTRUCTOR
                else " Ask your teacher to set it up."
            )
            raise LaunchRejected("This activity is not linked to a question." + hint)
        if question.course_id != course.id:
            # A link copied into another LMS course (or a hand-written custom parameter)
            # must not open another course's question to this course's teachers.
            raise LaunchRejected(
                "This activity's question belongs to another course; add it to this course "
                "through the tool's activity picker (deep linking)."
            )
        link = LtiResourceLink(platform_id=platform.id, resource_link_id=link_id, question=question)
        link.question_id = question.id
        link.ags_scopes = []
        repo.add(link)
    ags = data.get(claims.AGS_ENDPOINT)
    if isinstance(ags, dict):
        lineitem = _text(ags.get("lineitem"), 2048)
        scopes = [s for s in ags.get("scope", []) if isinstance(s, str)][:10]
        if lineitem and link.lineitem_url != lineitem:
            link.lineitem_url = lineitem
        if scopes and scopes != link.ags_scopes:
            link.ags_scopes = scopes
    title = _text(link_claim.get("title"), 255)
    if title and link.title != title:
        link.title = title
    return link


def _display_name(data: Mapping[str, Any]) -> str:
    for key in ("name", "given_name", "email"):
        text = _text(data.get(key), 150)
        if text:
            return text
    return "LMS user"


def open_launch(
    session: Session, settings: Settings, verified: VerifiedLaunch, *, now: datetime
) -> Opened:
    """Record the launch and what it opens. A learner gets the answer page of the placed
    question; an instructor the console on it; a deep-linking launch (instructors only) the
    picker."""
    data = verified.claims
    platform = verified.platform
    role = claims.launch_role(data.get(claims.ROLES))
    if role is None:
        raise LaunchForbidden("Your role in this course does not give access to this activity.")
    course = _course_for(session, platform, data.get(claims.CONTEXT))
    question: Question | None = None
    link: LtiResourceLink | None = None
    deep_linking: dict[str, Any] | None = None
    if verified.message_type is MessageType.DEEP_LINKING:
        if role is not LaunchRole.INSTRUCTOR:
            raise LaunchForbidden("Only the course's teachers can add this activity.")
        dl = data[claims.DL_SETTINGS]
        deep_linking = {
            "return_url": str(dl["deep_link_return_url"])[:2048],
            "data": dl.get("data") if isinstance(dl.get("data"), str) else None,
            "accept_types": [t for t in dl.get("accept_types", []) if isinstance(t, str)][:10],
        }
        if "ltiResourceLink" not in deep_linking["accept_types"]:
            raise LaunchRejected("The LMS does not accept links to activities here.")
    else:
        link = _resource_link(session, verified, course, role)
        question = session.get(Question, link.question_id)
    presentation = data.get(claims.LTI + "launch_presentation")
    in_window = isinstance(presentation, dict) and presentation.get("document_target") == "window"
    token = secrets.token_urlsafe(32)
    launch = LtiLaunch(
        token_hash=hash_token(token),
        platform_id=platform.id,
        organization_id=platform.organization_id,
        course_id=course.id,
        message_type=verified.message_type.value,
        deployment_id=str(data[claims.DEPLOYMENT_ID]),
        subject=str(data["sub"]),
        display_name=_display_name(data),
        role=role.value,
        resource_link_id=link.id if link else None,
        deep_linking=deep_linking,
        expires_at=now + timedelta(minutes=settings.lti_launch_minutes),
    )
    LaunchRepository(session).add(launch)
    log.info(
        "LTI %s launch from platform %s as %s", verified.message_type.value, platform.id, role.value
    )
    return Opened(
        launch, token, question, frame_origins(session, platform.organization_id), in_window
    )


def launch_for(session: Session, token: str | None, *, now: datetime) -> LtiLaunch:
    """The launch a page's form carries, while it lasts."""
    if not token or len(token) > 128:
        raise LaunchRejected("This page has no launch: open the activity from your LMS again.")
    launch = LaunchRepository(session).launch_by_hash(hash_token(token))
    if launch is None or launch.expires_at <= now:
        raise LaunchRejected("This page has expired: open the activity from your LMS again.")
    return launch


def console_sign_in(
    session: Session, launch: LtiLaunch, *, policy: SessionPolicy, now: datetime
) -> SignedIn:
    """An instructor's launch signs them in to the console for that course. The launch is
    used up: its token, which travelled in a page, cannot sign in twice."""
    if launch.role != LaunchRole.INSTRUCTOR:
        raise LaunchForbidden("The console is for the course's teachers.")
    launch.expires_at = now
    return session_service.sign_in_principal(
        session,
        organization_id=launch.organization_id,
        role=Role.INSTRUCTOR,
        course_ids=frozenset({launch.course_id}),
        display_name=f"{launch.display_name} (LMS)"[:200],
        policy=policy,
        now=now,
    )


def learner_principal(launch: LtiLaunch) -> Principal:
    """The launch posts the learner's answer as an LMS integration would, in the platform's
    organisation; it has no API key (``Via.LTI``)."""
    return Principal(
        key_id=launch.id,
        name=launch.display_name,
        role=Role.INTEGRATION,
        organization_id=launch.organization_id,
        course_ids=frozenset(),
        via=Via.LTI,
    )


def attempts_of(session: Session, launch: LtiLaunch) -> Sequence[Submission]:
    if launch.resource_link_id is None:
        return []
    return LaunchRepository(session).attempts(launch.resource_link_id, launch.subject)


def course_questions(session: Session, launch: LtiLaunch) -> Sequence[Question]:
    return LaunchRepository(session).course_questions(launch.course_id)


# ------------------------------------------------------------------------ platforms


@dataclass(frozen=True)
class PlatformValues:
    name: str
    issuer: str
    client_id: str
    auth_login_url: str
    token_url: str
    jwks_url: str
    deployment_ids: list[str]


def check_platform_urls(values: PlatformValues, settings: Settings) -> None:
    """The platform's endpoints must be reachable under the outbound rules, checked now
    (resolving, never connecting) so an admin hears it at registration."""
    policy = outbound_policy(settings)
    for label, url in (
        ("auth_login_url", values.auth_login_url),
        ("token_url", values.token_url),
        ("jwks_url", values.jwks_url),
    ):
        try:
            policy.check(url)
        except DestinationRefused as exc:
            raise UnprocessableRequest(f"{label} is refused: {exc.reason}.", field=label) from None


def register_platform(
    session: Session,
    settings: Settings,
    *,
    organization_id: uuid.UUID,
    values: PlatformValues,
    registered_by: str,
) -> LtiPlatform:
    check_platform_urls(values, settings)
    repo = PlatformRepository(session, Scope.system())
    if repo.exists(values.issuer, values.client_id):
        raise Conflict("A platform with this issuer and client id is already registered.")
    platform = LtiPlatform(
        id=uuid.uuid4(),
        organization_id=organization_id,
        name=values.name,
        issuer=values.issuer,
        client_id=values.client_id,
        auth_login_url=values.auth_login_url,
        token_url=values.token_url,
        jwks_url=values.jwks_url,
        registered_by=registered_by,
    )
    repo.add(platform)
    session.flush()
    for deployment_id in dict.fromkeys(values.deployment_ids):
        session.add(LtiDeployment(platform_id=platform.id, deployment_id=deployment_id))
    session.flush()
    session.refresh(platform, attribute_names=["deployments"])
    log.info(
        "LTI platform %s registered (%s) for organisation %s",
        platform.id,
        registered_by,
        organization_id,
    )
    return platform


def list_platforms(session: Session, scope: Scope) -> Sequence[LtiPlatform]:
    return PlatformRepository(session, scope).list_all()


def get_platform(session: Session, scope: Scope, platform_id: uuid.UUID) -> LtiPlatform:
    platform = PlatformRepository(session, scope).get(platform_id)
    if platform is None:
        raise NotFound("No such LTI platform.")
    return platform


def add_deployment(session: Session, platform: LtiPlatform, deployment_id: str) -> LtiPlatform:
    if not PlatformRepository(session, Scope.system()).has_deployment(platform.id, deployment_id):
        session.add(LtiDeployment(platform_id=platform.id, deployment_id=deployment_id))
        session.flush()
        session.refresh(platform, attribute_names=["deployments"])
    return platform


def delete_platform(session: Session, platform: LtiPlatform) -> None:
    """Its launches stop at once; submissions made through it stay (their placement is
    forgotten, so no more scores are posted to it)."""
    PlatformRepository(session, Scope.system()).delete(platform)
    session.flush()


def delete_expired(session: Session, *, now: datetime) -> int:
    return LaunchRepository(session).delete_expired(now)


# ------------------------------------------------------------------ answer and picker


@dataclass(frozen=True)
class Answered:
    submission: Submission
    feedback_token: str
    new: bool  # False: no attempt was left, this is the one that counts


def submit_answer(
    session: Session,
    *,
    graders: GraderCache,
    launch: LtiLaunch,
    answer: str,
    now: datetime,
) -> Answered:
    """A learner's answer from the answer page, stored and scored like any submission, its
    score queued for the gradebook. With no attempt left (a second click on Submit, a
    reloaded form), nothing is stored and the attempt that counts is shown again."""
    if launch.role != LaunchRole.LEARNER or launch.resource_link_id is None:
        raise LaunchForbidden("Only learners answer here; teachers review in the console.")
    # One answer at a time per launch (a double click): the row lock serialises them.
    session.refresh(launch, with_for_update=True)
    link = session.get(LtiResourceLink, launch.resource_link_id)
    if link is None:
        raise LaunchRejected("This activity is no longer linked to a question.")
    question = session.get(Question, link.question_id)
    if question is None:
        raise LaunchRejected("This activity's question was deleted.")
    counted = _counted_when_used_up(session, launch, question)
    if counted is not None:
        return Answered(counted, submission_service.reissue_feedback_link(session, counted), False)
    try:
        body = SubmissionCreate(question_id=question.slug, learner_id=launch.subject, answer=answer)
    except ValidationError as exc:
        raise UnprocessableRequest(_first_error(exc), field="answer") from None
    submission = submission_service.create_submission(
        session,
        graders=graders,
        body=body,
        principal=learner_principal(launch),
        lti_resource_link_id=link.id,
    )
    token = submission_service.issued_feedback_token(submission)
    assert token is not None  # a new submission always has its link
    return Answered(submission, token, True)


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    return str(errors[0]["msg"]) if errors else "The answer could not be read."


def _counted_when_used_up(
    session: Session, launch: LtiLaunch, question: Question
) -> Submission | None:
    """The attempt that counts once the learner has no attempt left in this placement,
    else None (they may answer again)."""
    assert launch.resource_link_id is not None
    attempts = LaunchRepository(session).attempts(launch.resource_link_id, launch.subject)
    if len(attempts) < question.max_attempts:
        return None
    return ags.counting(attempts, question.attempt_policy)


def feedback_of_latest(session: Session, launch: LtiLaunch) -> str | None:
    """A new feedback link to the attempt that counts, when no attempt is left (a learner
    who launches again sees their feedback instead of an empty form)."""
    if launch.resource_link_id is None:
        return None
    link = session.get(LtiResourceLink, launch.resource_link_id)
    question = session.get(Question, link.question_id) if link else None
    if question is None:
        return None
    counted = _counted_when_used_up(session, launch, question)
    if counted is None:
        return None
    return submission_service.reissue_feedback_link(session, counted)


@dataclass(frozen=True)
class DeepLinkResponse:
    return_url: str
    jwt: str
    title: str


def _new_slug(session: Session, organization_id: uuid.UUID, title: str) -> str:
    base = _SLUG_SAFE.sub("-", title.lower()).strip("-")[:40] or "question"
    repo = QuestionRepository(session, Scope.organization(organization_id))
    for _ in range(5):
        slug = f"{base}-{secrets.token_hex(3)}"
        if repo.get_by_slug(slug) is None:
            return slug
    raise Conflict("Could not choose an id for the new question; try again.")


def create_question_from_prompt(
    session: Session, launch: LtiLaunch, *, title: str, prompt: str, reference: str, points: float
) -> Question:
    """A question made in the picker: its criteria are derived from the reference answer by
    the engine (a rubric without criteria), and the teacher edits them in the console."""
    course = session.get(Course, launch.course_id)
    assert course is not None
    slug = _new_slug(session, launch.organization_id, title)
    outcome = rubric_service.create_question(
        session,
        {
            "id": slug,
            "title": title,
            "prompt": prompt,
            "max_points": points,
            "reference_answers": [reference],
        },
        course=course,
    )
    return outcome.question


def deep_link(
    session: Session,
    settings: Settings,
    launch: LtiLaunch,
    question: Question,
    *,
    launch_url: str,
    now: datetime,
) -> DeepLinkResponse:
    """The signed ``LtiDeepLinkingResponse`` placing ``question``: an ``ltiResourceLink``
    with its line item (``scoreMaximum`` = the question's points). The launch is used up."""
    if launch.message_type != MessageType.DEEP_LINKING or launch.role != LaunchRole.INSTRUCTOR:
        raise LaunchForbidden("This page was not opened to add an activity.")
    if question.course_id != launch.course_id:
        raise NotFound(f"No question with id {question.slug!r} in this course.")
    platform = session.get(LtiPlatform, launch.platform_id)
    assert platform is not None
    assert launch.deep_linking is not None
    item = {
        "type": "ltiResourceLink",
        "title": question.title,
        "text": question.prompt[:500],
        "url": launch_url,
        "custom": {claims.CUSTOM_QUESTION: question.slug},
        "lineItem": {
            "scoreMaximum": question.max_points,
            "label": question.title,
            "resourceId": question.slug,
            "tag": "grader",
        },
    }
    token = tokens.deep_linking_response(
        client_id=platform.client_id,
        issuer=platform.issuer,
        deployment_id=launch.deployment_id,
        data=launch.deep_linking.get("data"),
        content_items=[item],
        message=f"Added {question.title}"[:200],
        key=lti_keys.signing_key(session, settings),
    )
    launch.expires_at = now
    return DeepLinkResponse(str(launch.deep_linking["return_url"]), token, question.title)


def question_of(session: Session, launch: LtiLaunch) -> Question:
    """The question a resource-link launch placed."""
    link = (
        session.get(LtiResourceLink, launch.resource_link_id) if launch.resource_link_id else None
    )
    question = session.get(Question, link.question_id) if link else None
    if question is None:
        raise LaunchRejected("This launch has no question: open the activity from your LMS.")
    return question
