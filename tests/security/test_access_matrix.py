"""The access matrix: every endpoint x every kind of caller x every target scope -> one exact
status code.

Callers: the deployment's operator-only key, the bootstrap key (admin of organisation A with
the operator capability), a plain admin of A, an instructor granted course c1 only, an
integration of A, and no key at all. Targets: an object of the caller's own scope (course
c1 of A), of another course of the same organisation (c2), of another organisation (B),
and, for submissions, one posted by A's second integration. A role that may not use an
endpoint gets 403 whatever the target; an object outside the caller's scope is 404, never
403, so that existence does not leak.

``test_matrix_covers_every_endpoint`` compares the rows with the app's routes: a new
endpoint without a row (or a row for a removed one) fails the suite.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from service.config import Settings
from service.db.session import make_sessionmaker, session_scope
from service.domain.access.principal import Role
from service.domain.keys import service as key_service
from service.domain.organizations import service as organization_service
from service.main import create_app
from service.web.security import is_page_path
from tests.conftest import ADMIN_KEY, RUBRICS_DIR, auth, empty_tables

ROLES = ("anonymous", "operator", "owner", "admin", "instructor", "integration")
OWN, OTHER_COURSE, OTHER_ORG, OTHER_POSTER = "own", "other-course", "other-org", "other-poster"
NO_TARGET = "-"
SHARED_QUESTION = "shared-q"  # exists in A (course c1) and, separately, in B
LEARNER = "student-17"  # a learner id used by both organisations
B_LEARNER = "only-in-b"  # a learner with data in B and none in A
METRICS_TOKEN = "matrix-metrics-scrape-token"  # a scrape credential, not an API key
ANSWER = "They negotiated secretly, through a backchannel."
PUBLIC_QUESTION_FIELDS = {"id", "title", "prompt", "max_points", "score_step"}


def rubric(question_id: str | None = None, *, title: str = "Secret talks") -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": title,
        "prompt": "How did the leaders talk?",
        "max_points": 4,
        "reference_answers": ["They negotiated secretly through a backchannel."],
        "criteria": [
            {
                "id": "secret",
                "description": "secret talks",
                "phrasings": ["secretly"],
                "feedback": {"hit": "Yes.", "miss": "How did they talk?"},
            }
        ],
    }
    if question_id is not None:
        body["id"] = question_id
    return body


@dataclass
class World:
    app: FastAPI
    clients: dict[str, TestClient]
    b_admin: TestClient
    # Per target: the values the path templates and bodies are filled with. A callable is
    # called once per case (a fresh object for a case that consumes it).
    ids: dict[str, dict[str, Any]]
    a_submissions: dict[str, str] = field(default_factory=dict)
    b_submissions: dict[str, str] = field(default_factory=dict)
    feedback_urls: dict[str, str] = field(default_factory=dict)

    def value(self, target: str, name: str) -> Any:
        found = self.ids[target][name]
        return found() if callable(found) else found


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def _post(client: TestClient, question_id: str, learner_id: str = LEARNER) -> dict[str, Any]:
    body = {"question_id": question_id, "learner_id": learner_id, "answer": ANSWER}
    return _ok(client.post("/v1/submissions", json=body), 201)


def _submit(client: TestClient, question_id: str, learner_id: str = LEARNER) -> str:
    submission_id: str = _post(client, question_id, learner_id)["id"]
    return submission_id


def _new_key(admin: TestClient, role: str, **extra: Any) -> dict[str, Any]:
    return _ok(admin.post("/v1/keys", json={"name": f"{role} key", "role": role, **extra}), 201)


def _operator_only_key(app: FastAPI) -> str:
    """POST /v1/keys refuses role operator: the deployment makes such a key itself."""
    with session_scope(make_sessionmaker(app.state.engine)) as session:
        home = organization_service.ensure_default_organization(session)
        return key_service.create_key(
            session, organization_id=home.organization.id, name="operator", role=Role.OPERATOR
        ).key


def _build_world(app: FastAPI) -> World:
    owner = TestClient(app, headers=auth(ADMIN_KEY))
    _ok(owner.post("/v1/courses", json={"id": "c2", "title": "Course two"}), 201)
    _ok(owner.post("/v1/questions", json={**rubric("q-one"), "course_id": "default"}), 201)
    _ok(owner.post("/v1/questions", json={**rubric("q-two"), "course_id": "c2"}), 201)
    _ok(owner.post("/v1/questions", json=rubric(SHARED_QUESTION, title="A's question")), 201)
    admin = TestClient(app, headers=auth(_new_key(owner, "admin")["key"]))
    instructor_key = _new_key(owner, "instructor", course_ids=["default"])["key"]
    lms_key, lms2_key = _new_key(owner, "integration")["key"], _new_key(owner, "integration")["key"]
    lms, lms2 = TestClient(app, headers=auth(lms_key)), TestClient(app, headers=auth(lms2_key))
    spare_instructor = _new_key(owner, "instructor", course_ids=[])["id"]

    created = _ok(owner.post("/v1/organizations", json={"id": "org-b", "name": "B"}), 201)
    b_admin = TestClient(app, headers=auth(created["admin_key"]["key"]))
    _ok(b_admin.post("/v1/courses", json={"id": "b-course", "title": "B only"}), 201)
    _ok(b_admin.post("/v1/questions", json=rubric(SHARED_QUESTION, title="B's question")), 201)
    _ok(b_admin.post("/v1/questions", json={**rubric("q-bee"), "course_id": "b-course"}), 201)
    b_instructor = _new_key(b_admin, "instructor", course_ids=["b-course"])["id"]
    b_lms = TestClient(app, headers=auth(_new_key(b_admin, "integration")["key"]))

    # The feedback link is shown once, in the creating response (the database keeps its
    # hash). The shared submission's link is the one the feedback row reads: the
    # feedback-link rows revoke and reissue c1's, never this one.
    shared = _post(lms, SHARED_QUESTION)
    a_subs = {
        "c1": _submit(lms, "q-one"),
        "c2": _submit(lms, "q-two"),
        "shared": shared["id"],
        "lms2": _submit(lms2, "q-one"),
    }
    b_subs = {
        "shared": _submit(b_lms, SHARED_QUESTION),
        "b-course": _submit(b_lms, "q-bee"),
        "b-learner": _submit(b_lms, "q-bee", B_LEARNER),
    }
    feedback_url: str = shared["feedback_url"]
    jobs = {
        name: _ok(client.post(f"/v1/questions/{q}/rescore"), 202)["id"]
        for name, client, q in [
            ("c1", owner, "q-one"),
            ("c2", owner, "q-two"),
            ("b", b_admin, "q-bee"),
        ]
    }

    def victim() -> str:
        victim_id: str = _new_key(owner, "integration")["id"]
        return victim_id

    def granted(course: str) -> Callable[[], str]:
        def make() -> str:
            key_id: str = _new_key(owner, "instructor", course_ids=[course])["id"]
            return key_id

        return make

    def platform_of(admin_client: TestClient) -> str:
        """An LTI platform of the admin's organisation (loopback URLs: the tests' allowed
        outbound address; nothing is fetched at registration)."""
        n = next(_unique)
        body = {
            "name": f"LMS {n}",
            "issuer": f"http://127.0.0.1:9/lms-{n}",
            "client_id": f"client-{n}",
            "auth_login_url": "http://127.0.0.1:9/auth",
            "token_url": "http://127.0.0.1:9/token",
            "jwks_url": "http://127.0.0.1:9/jwks",
            "deployment_ids": ["d-1"],
        }
        platform_id: str = _ok(admin_client.post("/v1/lti/platforms", json=body), 201)["id"]
        return platform_id

    a_platform, b_platform = platform_of(owner), platform_of(b_admin)

    def fresh_learner() -> str:
        """A learner of A with one submission, for a case that deletes it."""
        learner_id = f"leaver-{next(_unique)}"
        _submit(lms, "q-one", learner_id)
        return learner_id

    # Answer groups, computed by listing them once; one group per question (its answers are
    # the same text).
    def group_of(client: TestClient, question_id: str) -> str:
        listed = _ok(client.get(f"/v1/questions/{question_id}/groups"))["items"]
        group_id: str = listed[0]["id"]
        return group_id

    groups = {
        "c1": group_of(owner, "q-one"),
        "c2": group_of(owner, "q-two"),
        "b": group_of(b_admin, "q-bee"),
    }

    def override_of(client: TestClient, submission_id: str) -> Callable[[], int]:
        """A fresh override of the submission (the newest, so a revert case can undo it)."""

        def make() -> int:
            body = {"points": 1, "reason": "To revert."}
            made = client.post(f"/v1/submissions/{submission_id}/overrides", json=body)
            override_id: int = _ok(made, 201)["id"]
            return override_id

        return make

    ids: dict[str, dict[str, Any]] = {
        NO_TARGET: {"token": feedback_url.rsplit("/", 1)[1]},
        OWN: {
            "question_id": "q-one",
            "course_id": "default",
            "submission_id": a_subs["c1"],
            "job_id": jobs["c1"],
            "key_id": victim,
            "instructor_id": spare_instructor,
            "granted_id": granted("default"),
            "learner_id": LEARNER,
            "leaver_id": fresh_learner,
            "platform_id": a_platform,
            "doomed_platform_id": lambda: platform_of(owner),
            "group_id": groups["c1"],
            "override_id": override_of(owner, a_subs["c1"]),
        },
        OTHER_COURSE: {
            "question_id": "q-two",
            "course_id": "c2",
            "submission_id": a_subs["c2"],
            "job_id": jobs["c2"],
            "instructor_id": spare_instructor,
            "granted_id": granted("c2"),
            "group_id": groups["c2"],
            "override_id": override_of(owner, a_subs["c2"]),
        },
        OTHER_ORG: {
            "question_id": "q-bee",
            "course_id": "b-course",
            "submission_id": b_subs["b-course"],
            "job_id": jobs["b"],
            "key_id": created["admin_key"]["id"],
            "instructor_id": b_instructor,
            "granted_id": b_instructor,
            # Stored in B only: A's admin must get 404, as for a learner never seen.
            "learner_id": B_LEARNER,
            "leaver_id": B_LEARNER,
            "platform_id": b_platform,
            "doomed_platform_id": b_platform,
            "group_id": groups["b"],
            "override_id": override_of(b_admin, b_subs["b-course"]),
        },
        OTHER_POSTER: {
            "submission_id": a_subs["lms2"],
            "override_id": override_of(owner, a_subs["lms2"]),
        },
    }
    keys = {
        "anonymous": None,
        "operator": _operator_only_key(app),
        "owner": ADMIN_KEY,
        "instructor": instructor_key,
        "integration": lms_key,
    }
    clients = {
        name: TestClient(app, headers=auth(key) if key else {}) for name, key in keys.items()
    }
    clients["admin"] = admin
    return World(app, clients, b_admin, ids, a_subs, b_subs, {"shared": feedback_url})


@pytest.fixture(scope="module")
def world(engine: Engine, database_url: str) -> Iterator[World]:
    """One world for the module: building it costs far more than the cases that read it,
    and the cases that change something make their own objects (fresh ids, fresh keys)."""
    empty_tables(engine)
    settings = Settings(
        database_url=database_url,
        rubrics_dir=RUBRICS_DIR,
        bootstrap_admin_key=SecretStr(ADMIN_KEY),
        worker_enabled=False,
        rate_limit="",
        rate_limit_integration="",
        rate_limit_failed_auth="",  # the anonymous cases are failed credentials, many of them
        # As in conftest: callbacks to the tests' own loopback address over plain http, and
        # links built for the TestClient's Host.
        callback_allow_http=True,
        callback_allowed_hosts="127.0.0.1/32",
        trusted_hosts="127.0.0.1,localhost,testserver",
        # /metrics exists only with a scrape token; with one, no API key opens it.
        metrics_token=SecretStr(METRICS_TOKEN),
    )
    app = create_app(settings)
    with TestClient(app):  # runs the lifespan (engine, rubrics, bootstrap key)
        yield _build_world(app)
    empty_tables(engine)


# --- Expected codes -----------------------------------------------------------------------

Expected = dict[str, dict[str, int]]  # target -> role -> status
_unique = itertools.count(1)


def _by_role(ok: int, allowed: set[str]) -> dict[str, int]:
    """``ok`` for the allowed roles (an admin role includes the owner), 403 for the other
    roles, 401 without a key."""
    if "admin" in allowed:
        allowed = allowed | {"owner"}
    return {role: 401 if role == "anonymous" else ok if role in allowed else 403 for role in ROLES}


def public(ok: int = 200) -> Expected:
    return {NO_TARGET: dict.fromkeys(ROLES, ok)}


def guarded(ok: int, allowed: set[str]) -> Expected:
    return {NO_TARGET: _by_role(ok, allowed)}


def scoped(
    ok: int, allowed: set[str], *, by_course: bool = True, by_poster: bool = False
) -> Expected:
    """An endpoint on one object. An instructor sees only its courses (``by_course``); an
    integration sees its organisation's questions, and only the submissions it posted
    (``by_poster``: then the target posted by the other integration is one of the cases)."""
    expected: Expected = {}
    targets = [OWN, OTHER_ORG] + ([OTHER_COURSE] if by_course else [])
    targets += [OTHER_POSTER] if by_poster else []
    # Whose objects a target holds that each role may not reach (other than its own).
    out_of_reach = {
        OTHER_ORG: set(ROLES),
        OTHER_COURSE: {"instructor"},
        OTHER_POSTER: {"integration"},
    }
    for target in targets:
        codes = _by_role(ok, allowed)
        for role, code in codes.items():
            if code == ok and role in out_of_reach.get(target, set()):
                codes[role] = 404
        expected[target] = codes
    return expected


def operator_only(ok: int) -> Expected:
    codes = _by_role(ok, {"operator"})
    codes["owner"] = ok  # the bootstrap key holds the operator capability
    return {NO_TARGET: codes}


Body = Callable[[World, str], Any]


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    expected: Expected
    body: Body | None = None
    # Path parameter -> the world's value to put there, when it is not the same name.
    values: tuple[tuple[str, str], ...] = ()


def _question_body(world: World, target: str) -> Any:
    course = world.value(target, "course_id") if target != NO_TARGET else "default"
    return {**rubric(f"new-q-{next(_unique)}"), "course_id": course}


def _submission_body(world: World, target: str) -> Any:
    question = world.value(target, "question_id")
    return {"question_id": question, "learner_id": LEARNER, "answer": ANSWER}


def _platform_body(world: World, target: str) -> Any:
    n = next(_unique)
    return {
        "name": "New LMS",
        "issuer": f"http://127.0.0.1:9/new-{n}",
        "client_id": f"new-{n}",
        "auth_login_url": "http://127.0.0.1:9/auth",
        "token_url": "http://127.0.0.1:9/token",
        "jwks_url": "http://127.0.0.1:9/jwks",
    }


def _instructor_key_body(world: World, target: str) -> Any:
    return {"name": "new", "role": "instructor", "course_ids": [world.value(target, "course_id")]}


STAFF = {"admin", "instructor"}
READERS = {"admin", "instructor", "integration"}
POSTERS = {"admin", "integration"}
Q = "/v1/questions/{question_id}"
S = "/v1/submissions/{submission_id}"

ROWS: list[Row] = [
    Row("GET", "/healthz", public()),
    Row("GET", "/readyz", public()),
    # Only the scrape token opens it (test_metrics_answers_its_token): an API key is not it.
    Row("GET", "/metrics", {NO_TARGET: dict.fromkeys(ROLES, 401)}),
    Row("GET", "/openapi.json", public()),
    Row("GET", "/docs", public()),
    Row("GET", "/docs/oauth2-redirect", public()),
    Row("GET", "/redoc", public()),
    # The feedback link is its own credential: a key, or none, changes nothing.
    Row("GET", "/v1/feedback/{token}", public()),
    Row(
        "POST",
        "/v1/organizations",
        operator_only(201),
        lambda w, t: {"id": f"org-{next(_unique)}", "name": "New school"},
    ),
    Row("GET", "/v1/organizations", operator_only(200)),
    Row("GET", "/v1/organization/embedding", guarded(200, {"admin"})),
    Row(
        "PUT",
        "/v1/organization/embedding",
        guarded(200, {"admin"}),
        lambda w, t: {"origins": ["https://lms.example.edu"]},
    ),
    Row(
        "POST",
        "/v1/courses",
        guarded(201, {"admin"}),
        lambda w, t: {"id": f"course-{next(_unique)}", "title": "New"},
    ),
    Row("GET", "/v1/courses", guarded(200, STAFF)),
    Row("GET", "/v1/courses/{course_id}", scoped(200, STAFF)),
    Row(
        "PUT",
        "/v1/courses/{course_id}/instructors/{key_id}",
        scoped(204, {"admin"}),
        values=(("key_id", "instructor_id"),),
    ),
    Row(
        "DELETE",
        "/v1/courses/{course_id}/instructors/{key_id}",
        scoped(204, {"admin"}),
        values=(("key_id", "granted_id"),),
    ),
    Row("POST", "/v1/keys", scoped(201, {"admin"}), _instructor_key_body),
    Row("GET", "/v1/keys", guarded(200, {"admin"})),
    Row("DELETE", "/v1/keys/{key_id}", scoped(200, {"admin"}, by_course=False)),
    Row("GET", "/v1/questions", guarded(200, READERS)),
    Row("POST", "/v1/questions", scoped(201, STAFF), _question_body),
    # An integration reads every question of its organisation (the public view).
    Row("GET", Q, scoped(200, READERS)),
    Row("PUT", Q + "/rubric", scoped(200, STAFF), lambda w, t: rubric()),
    Row("GET", Q + "/rubric-versions", scoped(200, STAFF)),
    Row("POST", Q + "/rescore", scoped(202, STAFF)),
    Row("POST", Q + "/rescore/preview", scoped(200, STAFF)),
    Row("POST", Q + "/calibrate", scoped(200, STAFF), lambda w, t: {}),
    Row("GET", Q + "/stats", scoped(200, STAFF)),
    Row("GET", Q + "/pilot", scoped(200, STAFF)),
    # Each target's submission answers that target's question.
    Row(
        "POST",
        Q + "/pilot/grades",
        scoped(200, STAFF),
        lambda w, t: {"submission_id": w.value(t, "submission_id"), "points": 1},
    ),
    # "immediately" is the default: the cases change nothing the other tests read.
    Row(
        "PUT",
        Q + "/feedback-release",
        scoped(200, STAFF),
        lambda w, t: {"mode": "immediately"},
    ),
    Row("POST", Q + "/feedback-release/release", scoped(200, STAFF)),
    Row("GET", Q + "/groups", scoped(200, STAFF)),
    Row("GET", Q + "/groups/{group_id}", scoped(200, STAFF)),
    Row(
        "POST",
        Q + "/groups/{group_id}/grade",
        scoped(200, STAFF),
        lambda w, t: {"points": 1, "reason": "The same answer."},
    ),
    # Reaching the rules needs the role and the scope; the bodies name no member of the
    # group (split) or the group itself (move), so each allowed case is refused by them
    # and changes nothing the other cases read.
    Row(
        "POST",
        Q + "/groups/{group_id}/split",
        scoped(422, STAFF),
        lambda w, t: {"submission_ids": ["00000000-0000-4000-8000-000000000000"]},
    ),
    Row(
        "POST",
        Q + "/groups/{group_id}/move",
        scoped(422, STAFF),
        lambda w, t: {
            "submission_ids": ["00000000-0000-4000-8000-000000000000"],
            "to_group_id": w.value(t, "group_id"),
        },
    ),
    Row("GET", "/v1/jobs/{job_id}", scoped(200, STAFF)),
    Row("GET", "/v1/exports/submissions.csv", guarded(200, STAFF)),
    Row("POST", "/v1/submissions", scoped(201, POSTERS), _submission_body),
    Row(
        "POST",
        "/v1/submissions/batch",
        guarded(200, POSTERS),
        lambda w, t: {"items": [_submission_body(w, OWN)]},
    ),
    Row("GET", "/v1/submissions", guarded(200, READERS)),
    Row("GET", S, scoped(200, READERS, by_poster=True)),
    Row(
        "POST",
        S + "/overrides",
        scoped(201, STAFF, by_poster=True),
        lambda w, t: {"points": 1, "reason": "Read by a teacher."},
    ),
    Row("GET", S + "/overrides", scoped(200, STAFF, by_poster=True)),
    Row("POST", S + "/overrides/{override_id}/revert", scoped(201, STAFF, by_poster=True)),
    # A new link: staff of the course, or the integration that posted the submission.
    Row("POST", S + "/feedback-link", scoped(201, READERS, by_poster=True)),
    Row("DELETE", S + "/feedback-link", scoped(204, STAFF, by_poster=True)),
    # A learner belongs to an organisation, not a course; only its admin exports or erases.
    Row("GET", "/v1/learners/{learner_id:path}/export", scoped(200, {"admin"}, by_course=False)),
    Row(
        "DELETE",
        "/v1/learners/{learner_id:path}",
        scoped(200, {"admin"}, by_course=False),
        values=(("learner_id", "leaver_id"),),
    ),
    Row(
        "PUT",
        "/v1/callback",
        guarded(200, POSTERS),
        # No secret: the service generates one (Standard Webhooks form) and shows it once.
        lambda w, t: {"url": "http://127.0.0.1:9/hook"},
    ),
    Row("GET", "/v1/callback", guarded(200, POSTERS)),
    Row("DELETE", "/v1/callback", guarded(200, POSTERS)),
    Row("GET", "/v1/callback/deliveries", guarded(200, POSTERS)),
    # LTI: the protocol's endpoints take no key (the platform's signed messages and the
    # launch's own token are the credentials), so a key, or none, changes nothing. Without
    # the protocol's parameters each answers its own error.
    Row("GET", "/.well-known/jwks.json", public()),
    Row("GET", "/lti/login", public(400)),
    Row("POST", "/lti/login", public(400)),
    Row("POST", "/lti/launch", public(400)),
    Row("POST", "/lti/console", public(422)),
    Row("POST", "/lti/answer", public(422)),
    Row("POST", "/lti/deep-link", public(422)),
    Row("GET", "/lti/register", public(400)),
    Row("GET", "/v1/lti/tool", guarded(200, {"admin"})),
    Row("GET", "/v1/lti/platforms", guarded(200, {"admin"})),
    Row("POST", "/v1/lti/platforms", guarded(201, {"admin"}), _platform_body),
    Row("GET", "/v1/lti/platforms/{platform_id}", scoped(200, {"admin"}, by_course=False)),
    Row(
        "DELETE",
        "/v1/lti/platforms/{platform_id}",
        scoped(204, {"admin"}, by_course=False),
        values=(("platform_id", "doomed_platform_id"),),
    ),
    Row(
        "POST",
        "/v1/lti/platforms/{platform_id}/deployments",
        scoped(200, {"admin"}, by_course=False),
        lambda w, t: {"deployment_id": "d-2"},
    ),
    Row("GET", "/v1/lti/platforms/{platform_id}/scores", scoped(200, {"admin"}, by_course=False)),
    Row("POST", "/v1/lti/registrations", guarded(201, {"admin"})),
    Row("POST", "/v1/lti/keys/rotate", operator_only(201)),
    Row(
        "PUT",
        Q + "/attempts",
        scoped(200, STAFF),
        lambda w, t: {"max_attempts": 1, "attempt_policy": "last"},
    ),
]


CASES = [
    pytest.param(row, target, role, code, id=f"{row.method} {row.path} [{target}] {role}")
    for row in ROWS
    for target, codes in row.expected.items()
    for role, code in codes.items()
]


def _app_operations(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers: API routes and the docs pages alike (included
    routers are flattened the way FastAPI's own OpenAPI generator walks them). The console's
    pages take a session, not a key: tests/web/test_page_access.py is their matrix."""
    operations: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        if is_page_path(route.path or ""):
            continue
        methods = route.methods or set()
        operations |= {(method, route.path or "") for method in methods - {"HEAD"}}
    return operations


def test_matrix_covers_every_endpoint(world: World) -> None:
    rows = {(row.method, row.path) for row in ROWS}
    assert len(rows) == len(ROWS), "one row per endpoint"
    assert _app_operations(world.app) == rows
    # The OpenAPI document drops Starlette's ":path" converter from the template.
    documented = {
        (method.upper(), path.replace("{learner_id}", "{learner_id:path}"))
        for path, item in world.app.openapi()["paths"].items()
        for method in item
    }
    assert documented <= rows


def test_matrix_size() -> None:
    # Stated in the closing note; update both when rows change.
    assert len(CASES) == 876


def test_metrics_answers_its_token(world: World) -> None:
    """The other side of the /metrics row: the scrape token, and only it, opens it."""
    scraper = TestClient(world.app, headers=auth(METRICS_TOKEN))
    response = scraper.get("/metrics")
    assert response.status_code == 200, response.text
    assert "grader_http_requests_total" in response.text


def _fill(world: World, target: str, row: Row) -> str:
    # "{learner_id:path}" is Starlette's converter syntax: the name is before the colon.
    template = row.path.replace(":path}", "}")
    names = [part[1:-1] for part in template.split("/") if part.startswith("{")]
    source = dict(row.values)
    return template.format(**{name: world.value(target, source.get(name, name)) for name in names})


@pytest.mark.parametrize(("row", "target", "role", "code"), CASES)
def test_access(world: World, row: Row, target: str, role: str, code: int) -> None:
    url = _fill(world, target, row)
    body = row.body(world, target) if row.body is not None else None
    response = world.clients[role].request(row.method, url, json=body)
    assert response.status_code == code, response.text
    if code in (401, 403, 404):
        expected_code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}[code]
        assert response.json()["code"] == expected_code


# --- What crosses no boundary, read from the responses ------------------------------------


def _submission_ids(client: TestClient, **params: str) -> set[str]:
    page = _ok(client.get("/v1/submissions", params={"limit": "100", **params}))
    assert page["next_cursor"] is None
    return {item["id"] for item in page["items"]}


def test_integration_sees_only_the_public_view_of_its_organisations_questions(
    world: World,
) -> None:
    lms = world.clients["integration"]
    listed = _ok(lms.get("/v1/questions"))["items"]
    assert all(set(item) == PUBLIC_QUESTION_FIELDS for item in listed)
    ids = {item["id"] for item in listed}
    assert {"q-one", "q-two", SHARED_QUESTION} <= ids
    assert "q-bee" not in ids
    shared = _ok(lms.get(f"/v1/questions/{SHARED_QUESTION}"))
    assert shared == {
        "id": SHARED_QUESTION,
        "title": "A's question",
        "prompt": "How did the leaders talk?",
        "max_points": 4.0,
        "score_step": shared["score_step"],
    }
    assert set(_ok(lms.get("/v1/questions/q-two"))) == PUBLIC_QUESTION_FIELDS


def test_same_question_id_in_two_organisations_stays_apart(world: World) -> None:
    a = _ok(world.clients["admin"].get(f"/v1/questions/{SHARED_QUESTION}"))
    b = _ok(world.b_admin.get(f"/v1/questions/{SHARED_QUESTION}"))
    assert (a["title"], b["title"]) == ("A's question", "B's question")
    by_b = _submission_ids(world.b_admin, question_id=SHARED_QUESTION)
    assert by_b == {world.b_submissions["shared"]}
    by_a = _submission_ids(world.clients["admin"], question_id=SHARED_QUESTION)
    assert world.a_submissions["shared"] in by_a
    assert not by_a & set(world.b_submissions.values())


def test_submission_lists_never_cross_organisations(world: World) -> None:
    a_ids, b_ids = set(world.a_submissions.values()), set(world.b_submissions.values())
    assert _submission_ids(world.b_admin) == b_ids
    assert _submission_ids(world.b_admin, learner_id=LEARNER) == b_ids - {
        world.b_submissions["b-learner"]
    }
    seen_by_a = _submission_ids(world.clients["admin"])
    assert a_ids <= seen_by_a
    assert not seen_by_a & b_ids
    assert not _submission_ids(world.clients["admin"], learner_id=LEARNER) & b_ids
    csv = world.b_admin.get("/v1/exports/submissions.csv")
    assert csv.status_code == 200
    assert not any(submission_id in csv.text for submission_id in a_ids)
    assert all(submission_id in csv.text for submission_id in b_ids)


def test_submission_lists_never_cross_courses(world: World) -> None:
    seen = _submission_ids(world.clients["instructor"])
    assert world.a_submissions["c1"] in seen
    assert world.a_submissions["lms2"] in seen  # c1, posted by the other integration
    assert world.a_submissions["c2"] not in seen
    assert not seen & set(world.b_submissions.values())
    csv = world.clients["instructor"].get("/v1/exports/submissions.csv")
    assert csv.status_code == 200
    assert world.a_submissions["c2"] not in csv.text
    assert world.a_submissions["c1"] in csv.text


def test_integration_lists_only_what_it_posted(world: World) -> None:
    seen = _submission_ids(world.clients["integration"])
    assert {world.a_submissions[name] for name in ("c1", "c2", "shared")} <= seen
    assert world.a_submissions["lms2"] not in seen
    assert not seen & set(world.b_submissions.values())


def test_batch_items_outside_the_organisation_are_404(world: World) -> None:
    items = [
        {"question_id": question, "learner_id": LEARNER, "answer": ANSWER}
        for question in ("q-one", "q-two", "q-bee")
    ]
    result = _ok(world.clients["integration"].post("/v1/submissions/batch", json={"items": items}))
    assert [item["status"] for item in result["items"]] == [201, 201, 404]
