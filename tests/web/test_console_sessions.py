"""Console sign-in: a key exchanged once for a server-side session; CSRF on every form;
idle and absolute timeouts, sign-out and key revocation end the session at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from service.db.models import WebSession
from service.worker import Housekeeping, run_once
from tests.conftest import ADMIN_KEY, create_key
from tests.web.conftest import console_client, csrf_of


def test_console_asks_to_sign_in_and_returns_to_the_page(client: TestClient, app: FastAPI) -> None:
    browser = TestClient(app)
    first = browser.get("/console", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/console/sign-in?next=/console"
    key = create_key(client, "instructor", "Ms Rivera")
    token = csrf_of(browser, "/console/sign-in?next=/console/review")
    signed = browser.post(
        "/console/sign-in",
        data={"key": key, "csrftoken": token, "next": "/console/review"},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/console/review"
    cookie = signed.headers["set-cookie"]
    assert "grader_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test
    home = browser.get("/console")
    assert home.status_code == 200
    assert "Ms Rivera" in home.text


def test_session_cookie_is_secure_over_https(client: TestClient, app: FastAPI) -> None:
    browser = TestClient(app, base_url="https://testserver")
    token = csrf_of(browser, "/console/sign-in")
    signed = browser.post(
        "/console/sign-in",
        data={"key": ADMIN_KEY, "csrftoken": token},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    assert "Secure" in signed.headers["set-cookie"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/v1/keys"])
def test_next_never_leaves_the_console(client: TestClient, app: FastAPI, target: str) -> None:
    browser = TestClient(app)
    token = csrf_of(browser, "/console/sign-in")
    signed = browser.post(
        "/console/sign-in",
        data={"key": ADMIN_KEY, "csrftoken": token, "next": target},
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/console"


def test_wrong_keys_are_refused_with_a_message_at_the_field(
    client: TestClient, app: FastAPI
) -> None:
    browser = TestClient(app)
    token = csrf_of(browser, "/console/sign-in")
    wrong = browser.post("/console/sign-in", data={"key": "nope", "csrftoken": token})
    assert wrong.status_code == 401
    assert 'aria-describedby="key-hint key-error"' in wrong.text
    assert "not valid or has been revoked" in wrong.text
    integration = create_key(client, "integration")
    refused = browser.post("/console/sign-in", data={"key": integration, "csrftoken": token})
    assert refused.status_code == 403
    assert "cannot sign in to the console" in refused.text
    empty = browser.post("/console/sign-in", data={"key": "", "csrftoken": token})
    assert empty.status_code == 401
    assert "Enter your key" in empty.text


def test_forms_without_or_with_a_forged_csrf_token_are_refused(
    client: TestClient, app: FastAPI
) -> None:
    browser = TestClient(app)
    # Signing in needs the token even before any cookie exists (login CSRF).
    missing = browser.post("/console/sign-in", data={"key": ADMIN_KEY})
    assert missing.status_code == 403
    assert missing.headers["content-type"].startswith("text/html")
    assert "did not come from this site" in missing.text
    signed = console_client(app, ADMIN_KEY)
    forged = signed.post("/console/sign-out", data={"csrftoken": "forged"})
    assert forged.status_code == 403
    assert signed.get("/console").status_code == 200  # still signed in
    # A cross-site JSON post with the session cookie but no token header is refused too.
    cross = signed.post("/console/sign-out", json={})
    assert cross.status_code == 403


def test_multipart_bodies_are_refused_on_pages(client: TestClient, app: FastAPI) -> None:
    browser = console_client(app, ADMIN_KEY)
    for content_type in ("multipart/form-data", "multipart/form-data; boundary=", "text/plain"):
        response = browser.post(
            "/console/sign-out", content=b"x", headers={"content-type": content_type}
        )
        assert response.status_code == 415, content_type
        assert response.headers["content-type"].startswith("text/html")


def test_sign_out_ends_the_session_everywhere(client: TestClient, app: FastAPI) -> None:
    browser = console_client(app, ADMIN_KEY)
    stolen = dict(browser.cookies)
    token = csrf_of(browser, "/console")
    out = browser.post("/console/sign-out", data={"csrftoken": token})
    assert out.status_code == 200
    assert "You are signed out" in out.text
    replay = TestClient(app, cookies=stolen)
    assert replay.get("/console", follow_redirects=False).status_code == 303


def test_revoking_the_key_ends_its_sessions(client: TestClient, app: FastAPI) -> None:
    key = create_key(client, "instructor", "Temp")
    browser = console_client(app, key)
    key_id = next(k["id"] for k in client.get("/v1/keys").json()["items"] if k["name"] == "Temp")
    assert client.delete(f"/v1/keys/{key_id}").status_code == 200
    assert browser.get("/console", follow_redirects=False).status_code == 303


def test_idle_and_absolute_timeouts(client: TestClient, app: FastAPI, engine: Engine) -> None:
    browser = console_client(app, ADMIN_KEY)
    assert browser.get("/console").status_code == 200
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(update(WebSession).values(last_seen_at=now - timedelta(minutes=61)))
    assert browser.get("/console", follow_redirects=False).status_code == 303

    fresh = console_client(app, ADMIN_KEY)
    with engine.begin() as connection:
        connection.execute(
            update(WebSession)
            .where(WebSession.ended_at.is_(None))
            .values(expires_at=now - timedelta(seconds=1), last_seen_at=now)
        )
    assert fresh.get("/console", follow_redirects=False).status_code == 303


def test_only_the_tokens_hash_is_stored(client: TestClient, app: FastAPI, engine: Engine) -> None:
    browser = console_client(app, ADMIN_KEY)
    token = browser.cookies["grader_session"]
    with engine.connect() as connection:
        hashes = connection.execute(select(WebSession.token_hash)).scalars().all()
    assert token not in hashes
    assert len(hashes) == 1


def test_landing_page_links_console_and_docs(anon: TestClient) -> None:
    page = anon.get("/")
    assert page.status_code == 200
    assert 'href="/console"' in page.text
    assert 'href="/docs"' in page.text
    assert '<html lang="en">' in page.text


def test_the_worker_deletes_sessions_past_their_lifetime(
    client: TestClient, app: FastAPI, engine: Engine
) -> None:
    console_client(app, ADMIN_KEY)
    live = console_client(app, ADMIN_KEY)
    with engine.begin() as connection:
        first = connection.execute(select(WebSession.id)).scalars().first()
        connection.execute(
            update(WebSession)
            .where(WebSession.id == first)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    run_once(app.state.sessionmaker, app.state.graders, app.state.settings, Housekeeping())
    with engine.connect() as connection:
        remaining = connection.execute(select(WebSession.id)).scalars().all()
    assert len(remaining) == 1
    assert first not in remaining
    assert live.get("/console").status_code == 200  # the live one is untouched
