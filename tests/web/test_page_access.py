"""The pages' access matrix: every console page x who asks -> one exact status.

Callers: nobody signed in; an instructor of another course (none of the targets is
theirs); an instructor of the default course (where the targets are); an admin. Targets
are objects of the default course. Like the API: out of scope is 404 (never 403), a page
for admins only is 403 for an instructor, and no session is a redirect to sign in.
``test_every_page_has_a_row`` fails for a page route without a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from service.config import Settings
from service.main import create_app
from service.web.security import is_page_path
from tests.conftest import ADMIN_KEY, RUBRICS_DIR, auth, create_key, empty_tables
from tests.web.conftest import console_client, csrf_of

ROLES = ("anonymous", "outsider", "instructor", "admin")
Q = "backchannel-q1"


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    expected: dict[str, int]
    data: dict[str, str] | None = None


def staff(ok: int = 200) -> dict[str, int]:
    return {"anonymous": 303, "outsider": 404, "instructor": ok, "admin": ok}


def anyone_signed_in(ok: int = 200) -> dict[str, int]:
    return {"anonymous": 303, "outsider": ok, "instructor": ok, "admin": ok}


def admins(ok: int = 200) -> dict[str, int]:
    return {"anonymous": 303, "outsider": 403, "instructor": 403, "admin": ok}


def public(ok: int = 200) -> dict[str, int]:
    return dict.fromkeys(ROLES, ok)


ROWS = [
    Row("GET", "/", public()),
    Row("GET", "/console/sign-in", public()),
    Row("GET", "/console", anyone_signed_in()),
    Row("GET", "/console/review", anyone_signed_in()),
    Row("GET", "/console/submissions/{submission_id}", staff()),
    # Invalid points: a 422 page for those who may, before anything is written.
    Row(
        "POST",
        "/console/submissions/{submission_id}/score",
        staff(422),
        {"action": "override", "points": "x", "reason": "r"},
    ),
    Row("GET", "/console/questions/{slug}", staff()),
    Row("GET", "/console/questions/{slug}/export.csv", staff()),
    Row("GET", "/console/questions/{slug}/rescore", staff()),
    Row("POST", "/console/questions/{slug}/rescore", staff(303), {}),
    Row("GET", "/console/jobs/{job_id}", staff()),
    Row("GET", "/console/questions/{slug}/calibrate", staff()),
    Row("POST", "/console/questions/{slug}/calibrate", staff(422), {}),
    Row("POST", "/console/questions/{slug}/calibrate/fit", staff(), {}),
    Row("GET", "/console/questions/{slug}/groups", staff()),
    Row("GET", "/console/questions/{slug}/groups/{group_id}", staff()),
    # Refused forms: a 422 page for those who may, before anything is written.
    Row(
        "POST",
        "/console/questions/{slug}/groups/{group_id}/grade",
        staff(422),
        {"points": "x", "reason": "r"},
    ),
    Row("POST", "/console/questions/{slug}/groups/{group_id}/split", staff(422), {}),
    Row("POST", "/console/questions/{slug}/groups/{group_id}/move", staff(422), {}),
    Row(
        "POST",
        "/console/questions/{slug}/groups/{group_id}/revert",
        staff(422),
        {"override_id": "x"},
    ),
    Row("GET", "/console/questions/{slug}/pilot", staff()),
    # Invalid points: a 422 page for those who may, before anything is written.
    Row("POST", "/console/questions/{slug}/pilot", staff(422), {"points": "x"}),
    Row("GET", "/console/questions/{slug}/rubric", staff()),
    Row("POST", "/console/questions/{slug}/rubric", staff(422), {"title": ""}),
    Row("POST", "/console/questions/{slug}/rubric/try", staff(422), {"title": ""}),
    Row("GET", "/console/keys", admins()),
    Row("POST", "/console/keys", admins(422), {"name": ""}),
    Row("GET", "/console/keys/{key_id}/revoke", admins()),
    Row("POST", "/console/keys/{key_id}/revoke", admins(303), {}),
    Row("GET", "/console/courses", admins()),
    Row("POST", "/console/courses", admins(422), {"id": ""}),
    Row("POST", "/console/courses/{course_id}/instructors", admins(422), {}),
    Row("GET", "/console/lms", admins()),
    Row("POST", "/console/lms/platforms", admins(422), {"name": ""}),
    Row("POST", "/console/lms/registrations", admins(201), {}),
    Row(
        "POST",
        "/console/lms/platforms/{platform_id}/deployments",
        admins(303),
        {"deployment_id": "d-2"},
    ),
    Row("GET", "/console/lms/platforms/{platform_id}/remove", admins()),
    Row("POST", "/console/lms/platforms/{platform_id}/remove", admins(303), {}),
]
EXCLUDED = {("POST", "/console/sign-in"), ("POST", "/console/sign-out")}  # test_console_sessions


def _page_operations(app: FastAPI) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        if is_page_path(route.path or "") and not (route.path or "").startswith("/static"):
            found |= {(m, route.path or "") for m in (route.methods or set()) - {"HEAD"}}
    return found


def test_every_page_has_a_row(app: FastAPI) -> None:
    rows = {(r.method, r.path) for r in ROWS}
    assert len(rows) == len(ROWS)
    assert _page_operations(app) == rows | EXCLUDED


@pytest.fixture(scope="module")
def world(settings: Settings) -> Any:
    app = create_app(settings)
    with TestClient(app, headers=auth(ADMIN_KEY)) as admin_api:
        assert admin_api.post("/v1/courses", json={"id": "other", "title": "Other"}).is_success
        lms_key = create_key(admin_api, "integration")
        posted = TestClient(app, headers=auth(lms_key)).post(
            "/v1/submissions",
            json={"question_id": Q, "learner_id": "s-1", "answer": "They talked in secret."},
        )
        assert posted.status_code == 201
        job = admin_api.post(f"/v1/questions/{Q}/rescore").json()["id"]
        create_key(admin_api, "instructor", "Victim")
        keys = admin_api.get("/v1/keys").json()["items"]
        key_id = next(k["id"] for k in keys if k["name"] == "Victim")
        # An LMS of the default organisation, at loopback URLs the module's settings allow.
        lms = "http://127.0.0.1:9"
        platform = admin_api.post(
            "/v1/lti/platforms",
            json={
                "name": "Test LMS",
                "issuer": lms,
                "client_id": "client-1",
                "auth_login_url": f"{lms}/auth",
                "token_url": f"{lms}/token",
                "jwks_url": f"{lms}/jwks",
                "deployment_ids": ["d-1"],
            },
        )
        assert platform.status_code == 201, platform.text
        groups = admin_api.get(f"/v1/questions/{Q}/groups").json()["items"]
        values = {
            "group_id": groups[0]["id"],
            "platform_id": platform.json()["id"],
            "slug": Q,
            "submission_id": posted.json()["id"],
            "job_id": job,
            "key_id": key_id,
            "course_id": "default",
        }
        anonymous = TestClient(app)
        csrf_of(anonymous, "/console/sign-in")
        clients = {
            "anonymous": anonymous,
            "outsider": console_client(app, create_key(admin_api, "instructor", courses=["other"])),
            "instructor": console_client(app, create_key(admin_api, "instructor")),
            "admin": console_client(app, create_key(admin_api, "admin", "Second admin")),
        }
        yield app, clients, values


# Module-scoped world needs module-scoped settings: build it from the function fixtures once.
@pytest.fixture(scope="module")
def settings(database_url: str, engine: Engine) -> Settings:
    empty_tables(engine)
    return Settings(
        database_url=database_url,
        rubrics_dir=RUBRICS_DIR,
        bootstrap_admin_key=SecretStr(ADMIN_KEY),
        worker_enabled=False,
        trusted_hosts="127.0.0.1,localhost,testserver",
        # As tests/conftest.py: an LMS registered at loopback URLs (never connected to).
        callback_allow_http=True,
        callback_allowed_hosts="127.0.0.1/32",
    )


CASES = [(row, role) for row in ROWS for role in ROLES]


@pytest.mark.parametrize(("row", "role"), CASES, ids=lambda v: getattr(v, "path", v))
def test_page_access(world: Any, row: Row, role: str) -> None:
    _app, clients, values = world
    client: TestClient = clients[role]
    url = row.path.format(**values)
    if row.method == "GET":
        response = client.get(url, follow_redirects=False)
    else:
        token = client.cookies.get("grader_csrf")
        response = client.post(
            url, data={**(row.data or {}), "csrftoken": token or ""}, follow_redirects=False
        )
    expected = row.expected[role]
    assert response.status_code == expected, (url, response.text[:500])
    if expected == 303 and role == "anonymous":
        assert response.headers["location"].startswith("/console/sign-in")
    if expected in (403, 404):
        assert response.headers["content-type"].startswith("text/html")
