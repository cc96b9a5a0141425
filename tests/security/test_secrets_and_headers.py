"""Secrets stay secret (logs, storage, comparison) and every response carries security
headers."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re

import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import ADMIN_KEY, client_as

ANSWER = "Khrushchev and Kennedy used a private channel: zebra-marker-answer-text."
LEARNER = "learner-zebra-marker-id"
REASON = "zebra-marker-override-reason"
CALLBACK_SECRET = "zebra-marker-callback-secret"


def test_no_key_answer_or_learner_id_in_logs_at_info(
    client: TestClient, app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="service"):
        created = client.post("/v1/keys", json={"name": "Canvas", "role": "integration"}).json()
        lms = client_as(app, created["key"])
        lms.put("/v1/callback", json={"url": "http://127.0.0.1:9/hook", "secret": CALLBACK_SECRET})
        submission = lms.post(
            "/v1/submissions",
            json={"question_id": "backchannel-q1", "learner_id": LEARNER, "answer": ANSWER},
        ).json()
        lms.post(
            "/v1/submissions/batch",
            json={
                "items": [
                    {"question_id": "backchannel-q1", "learner_id": LEARNER, "answer": ANSWER}
                ]
            },
        )
        client.post(
            f"/v1/submissions/{submission['id']}/overrides", json={"points": 7, "reason": REASON}
        )
        token = submission["feedback_url"].rsplit("/", 1)[1]
        client_as(app, None).get(f"/v1/feedback/{token}")
        client.get("/v1/submissions", params={"learner_id": LEARNER})
        client_as(app, "grk_wrong-key-zebra").get("/v1/keys")
    info = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert any(r.name == "service.access" for r in info)
    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in info)
    for secret in (
        created["key"],
        ADMIN_KEY,
        "grk_wrong-key-zebra",
        "zebra-marker",
        token,
        CALLBACK_SECRET,
    ):
        assert secret not in logged


def test_keys_are_compared_in_constant_time(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert client.get("/v1/keys").status_code == 200
    digest = hashlib.sha256(ADMIN_KEY.encode()).hexdigest()
    assert compared == [(digest, digest)]


def test_no_secret_is_stored_in_clear(client: TestClient, app: FastAPI) -> None:
    created = client.post("/v1/keys", json={"name": "LMS", "role": "integration"}).json()
    with app.state.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM api_key")).all()
    dumped = repr(rows)
    assert created["key"] not in dumped
    assert ADMIN_KEY not in dumped
    assert hashlib.sha256(created["key"].encode()).hexdigest() in dumped


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/v1/questions", 200),
        ("GET", "/v1/questions/nope", 404),
        ("GET", "/v1/submissions/not-a-uuid", 422),
        ("DELETE", "/v1/questions", 405),
        ("GET", "/v1/feedback/" + "x" * 43, 404),
        ("GET", "/openapi.json", 200),
        ("GET", "/metrics", 404),  # off without GRADER_METRICS_TOKEN
    ],
)
def test_security_headers_on_every_response(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["content-security-policy"].startswith("default-src 'none';")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers


def test_security_headers_on_errors_raised_before_routing(anon: TestClient) -> None:
    for response in (
        anon.get("/v1/keys"),
        anon.post("/v1/submissions", content=b"x" * 300_000),
    ):
        assert response.status_code in (401, 413)
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-request-id"]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_get_a_csp_that_lets_them_load(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline';" in csp
    assert "frame-ancestors 'none'" in csp
    # Swagger UI / ReDoc come from the service itself: nothing from a CDN.
    assert "/static-offline-docs/" in response.text
    assert "https://" not in response.text
    asset = re.search(r'src="(/static-offline-docs/[^"]+)"', response.text)
    assert asset
    assert client.get(asset[1]).status_code == 200
    assert response.headers["referrer-policy"] == "no-referrer"


def test_hsts_only_over_https(app: FastAPI, client: TestClient) -> None:
    with TestClient(app, base_url="https://testserver") as secure:
        response = secure.get("/healthz")
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert "strict-transport-security" not in client.get("/healthz").headers


def test_a_response_keeps_its_own_headers(app: FastAPI, client: TestClient) -> None:
    # The middleware only fills in what a response did not set itself.
    def cached() -> Response:
        return Response(b"{}", headers={"Cache-Control": "max-age=60"})

    app.add_api_route("/test-own-cache-control", cached)
    response = client.get("/test-own-cache-control")
    assert response.headers.get_list("cache-control") == ["max-age=60"]
    assert response.headers["x-content-type-options"] == "nosniff"
