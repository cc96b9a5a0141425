"""Who may do what: every endpoint against every kind of caller."""

from __future__ import annotations

import io
import time
import uuid
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.__main__ import main as cli_main
from service.config import Settings, get_settings
from service.main import create_app
from tests.conftest import ADMIN_KEY, auth, client_as, create_key
from tests.factories import submit

Q = "backchannel-q1"
RUBRIC_BODY = {
    "title": "t",
    "prompt": "How did the leaders talk?",
    "max_points": 4,
    "reference_answers": ["They negotiated secretly."],
    "criteria": [
        {
            "id": "secret",
            "description": "secret talks",
            "phrasings": ["secretly"],
            "feedback": {"hit": "Yes.", "miss": "No."},
        }
    ],
}

# (method, path template, body, roles allowed). {sub} is a submission, {job} a job, {key}
# a key id. "public" means no key is needed.
MATRIX: list[tuple[str, str, Any, set[str]]] = [
    ("GET", "/healthz", None, {"public"}),
    ("GET", "/readyz", None, {"public"}),
    ("GET", "/v1/feedback/{token}", None, {"public"}),
    ("GET", "/v1/questions", None, {"admin", "instructor", "integration"}),
    ("GET", f"/v1/questions/{Q}", None, {"admin", "instructor", "integration"}),
    ("POST", "/v1/questions", {**RUBRIC_BODY, "id": "new-q"}, {"admin", "instructor"}),
    ("PUT", f"/v1/questions/{Q}/rubric", None, {"admin", "instructor"}),
    ("GET", f"/v1/questions/{Q}/rubric-versions", None, {"admin", "instructor"}),
    ("POST", f"/v1/questions/{Q}/rescore", None, {"admin", "instructor"}),
    ("GET", f"/v1/questions/{Q}/stats", None, {"admin", "instructor"}),
    ("POST", f"/v1/questions/{Q}/calibrate", {}, {"admin", "instructor"}),
    ("GET", "/v1/jobs/{job}", None, {"admin", "instructor"}),
    ("GET", "/v1/exports/submissions.csv", None, {"admin", "instructor"}),
    (
        "POST",
        "/v1/submissions",
        {"question_id": Q, "learner_id": "s", "answer": "They talked secretly."},
        {"admin", "integration"},
    ),
    (
        "POST",
        "/v1/submissions/batch",
        {"items": [{"question_id": Q, "learner_id": "s", "answer": "secretly"}]},
        {"admin", "integration"},
    ),
    ("GET", "/v1/submissions", None, {"admin", "instructor", "integration"}),
    ("GET", "/v1/submissions/{sub}", None, {"admin", "instructor", "integration"}),
    (
        "POST",
        "/v1/submissions/{sub}/overrides",
        {"points": 5, "reason": "r"},
        {"admin", "instructor"},
    ),
    ("GET", "/v1/submissions/{sub}/overrides", None, {"admin", "instructor"}),
    (
        "PUT",
        "/v1/callback",
        {"url": "http://127.0.0.1:9/x", "secret": "s" * 20},
        {"admin", "integration"},
    ),
    ("GET", "/v1/callback", None, {"admin", "integration"}),
    ("DELETE", "/v1/callback", None, {"admin", "integration"}),
    ("GET", "/v1/callback/deliveries", None, {"admin", "integration"}),
    ("POST", "/v1/keys", {"name": "k", "role": "instructor"}, {"admin"}),
    ("GET", "/v1/keys", None, {"admin"}),
    ("DELETE", "/v1/keys/{key}", None, {"admin"}),
]
CALLERS = ["none", "invalid", "revoked", "integration", "instructor", "admin"]


@pytest.fixture
def world(client: TestClient, app: FastAPI) -> dict[str, Any]:
    """One of everything the matrix needs, and a client per kind of caller."""
    integration_key = create_key(client, "integration")
    lms = client_as(app, integration_key)
    submission = submit(lms, "They negotiated secretly.")
    job = client.post(f"/v1/questions/{Q}/rescore").json()
    spare = client.post("/v1/keys", json={"name": "spare", "role": "instructor"}).json()
    revoked = create_key(client, "instructor")
    revoked_id = next(
        k["id"] for k in client.get("/v1/keys").json()["items"] if revoked.startswith(k["prefix"])
    )
    assert client.delete(f"/v1/keys/{revoked_id}").status_code == 200
    keys = {
        "none": None,
        "invalid": "grk_not-a-real-key",
        "revoked": revoked,
        "integration": integration_key,
        "instructor": create_key(client, "instructor"),
        "admin": ADMIN_KEY,
    }
    token = submission["feedback_url"].rsplit("/", 1)[1]
    return {
        "clients": {name: client_as(app, key) for name, key in keys.items()},
        "ids": {"sub": submission["id"], "job": job["id"], "key": spare["id"], "token": token},
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX]
)
@pytest.mark.parametrize("caller", CALLERS)
def test_role_matrix(
    world: dict[str, Any], method: str, path: str, body: Any, allowed: set[str], caller: str
) -> None:
    url = path.format(**world["ids"])
    if path.endswith("/rubric"):
        body = RUBRIC_BODY
    response = world["clients"][caller].request(method, url, json=body)
    if "public" in allowed:
        assert response.status_code < 400, response.text
    elif caller in ("none", "invalid", "revoked"):
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == "application/problem+json"
    elif caller in allowed:
        assert response.status_code < 400, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden"


def test_key_is_shown_once_and_stored_only_as_a_hash(client: TestClient, app: FastAPI) -> None:
    created = client.post("/v1/keys", json={"name": "Canvas", "role": "integration"}).json()
    assert created["key"].startswith("grk_")
    assert len(created["key"]) >= 40
    assert created["prefix"] == created["key"][:12]
    listed = client.get("/v1/keys").json()["items"]
    assert created["key"] not in str(listed)
    assert {
        "id",
        "name",
        "role",
        "organization_id",
        "is_operator",
        "course_ids",
        "prefix",
        "created_at",
        "revoked_at",
    } == set(listed[-1])
    with app.state.engine.connect() as connection:
        from sqlalchemy import text

        stored = connection.execute(text("SELECT key_hash FROM api_key")).scalars().all()
    assert created["key"] not in stored
    assert all(len(value) == 64 for value in stored)


def test_revoked_key_stops_working(client: TestClient, app: FastAPI) -> None:
    created = client.post("/v1/keys", json={"name": "old LMS", "role": "integration"}).json()
    lms = client_as(app, created["key"])
    assert lms.get("/v1/submissions").status_code == 200
    revoked = client.delete(f"/v1/keys/{created['id']}").json()
    assert revoked["revoked_at"] is not None
    assert lms.get("/v1/submissions").status_code == 401


def test_the_last_admin_key_cannot_be_revoked(client: TestClient) -> None:
    admin_id = client.get("/v1/keys").json()["items"][0]["id"]
    response = client.delete(f"/v1/keys/{admin_id}")
    assert response.status_code == 409
    other = client.post("/v1/keys", json={"name": "second admin", "role": "admin"}).json()
    assert client.delete(f"/v1/keys/{admin_id}").status_code == 200
    assert client.get("/v1/keys", headers=auth(other["key"])).status_code == 200


@pytest.mark.parametrize(
    "body", [{"name": "x", "role": "owner"}, {"name": "", "role": "admin"}, {"role": "admin"}]
)
def test_invalid_key_requests_are_422(client: TestClient, body: dict[str, str]) -> None:
    assert client.post("/v1/keys", json=body).status_code == 422


def test_unknown_key_id_is_404(client: TestClient) -> None:
    assert client.delete(f"/v1/keys/{uuid.uuid4()}").status_code == 404


def test_bootstrap_key_from_settings_is_the_first_admin(client: TestClient) -> None:
    items = client.get("/v1/keys").json()["items"]
    assert [(k["name"], k["role"]) for k in items] == [("bootstrap admin", "admin")]


def run_cli(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, *argv: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("GRADER_DATABASE_URL", settings.database_url)
    monkeypatch.delenv("GRADER_BOOTSTRAP_ADMIN_KEY", raising=False)
    get_settings.cache_clear()
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = cli_main(list(argv))
    finally:
        get_settings.cache_clear()
    return code, out.getvalue(), err.getvalue()


def refused_within(client: TestClient, seconds: float) -> bool:
    """Whether the client's key is refused (401) within ``seconds`` (polled)."""
    deadline = time.monotonic() + seconds
    while True:
        if client.get("/v1/submissions").status_code == 401:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_cli_creates_lists_and_revokes_keys(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    code, out, _ = run_cli(
        monkeypatch, settings, "keys", "create", "--name", "Moodle", "--role", "integration"
    )
    assert code == 0
    key_id, role, key = out.split()
    assert role == "integration"
    with TestClient(create_app(settings), headers=auth(key)) as lms:
        assert lms.get("/v1/submissions").status_code == 200
        code, out, _ = run_cli(monkeypatch, settings, "keys", "list")
        assert key not in out
        assert f"{key_id} integration active" in out
        assert run_cli(monkeypatch, settings, "keys", "revoke", key_id)[0] == 0
        # The command line is another process to the app: its cached authentication lasts
        # at most GRADER_KEY_CACHE_SECONDS, then the revocation holds.
        assert refused_within(lms, settings.key_cache_seconds + 0.25)
    code, _, err = run_cli(monkeypatch, settings, "keys", "revoke", str(uuid.uuid4()))
    assert code == 2
    assert "No API key" in err


def test_serve_bootstrap_prints_a_generated_admin_key_once(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    from service.__main__ import bootstrap

    monkeypatch.setenv("GRADER_DATABASE_URL", settings.database_url)
    monkeypatch.delenv("GRADER_BOOTSTRAP_ADMIN_KEY", raising=False)
    get_settings.cache_clear()
    try:
        first, second = io.StringIO(), io.StringIO()
        with redirect_stdout(first):
            bootstrap()
        with redirect_stdout(second):
            bootstrap()
    finally:
        get_settings.cache_clear()
    key = next(word for word in first.getvalue().split() if word.startswith("grk_"))
    assert second.getvalue() == ""  # keys exist now: nothing generated, nothing printed
    no_bootstrap = settings.model_copy(update={"bootstrap_admin_key": None})
    with TestClient(create_app(no_bootstrap), headers=auth(key)) as admin:
        assert admin.get("/v1/keys").json()["items"][0]["role"] == "admin"
