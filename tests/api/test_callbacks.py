"""Signed callbacks to a real HTTP receiver on 127.0.0.1, with retries and an audit trail."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.domain.callbacks.service import DeliveryPolicy, deliver_due, verify
from service.main import create_app
from tests.conftest import ADMIN_KEY, auth, client_as, create_key
from tests.factories import submit

SECRET = "a-long-shared-secret-for-tests"


class Receiver:
    """A tiny LMS endpoint: records each request; fails the first ``fail_first`` calls."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_first = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                failing = len(receiver.requests) <= receiver.fail_first
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/grades"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def events(self) -> list[str]:
        return [json.loads(r["body"])["event"] for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def deliver(client: TestClient, **policy: Any) -> int:
    state = client.app.state  # type: ignore[attr-defined]
    return deliver_due(state.sessionmaker, policy=DeliveryPolicy(base_delay_seconds=0, **policy))


def test_scored_and_overridden_results_are_posted_signed(
    lms: TestClient, instructor: TestClient, client: TestClient, receiver: Receiver
) -> None:
    assert lms.put("/v1/callback", json={"url": receiver.url, "secret": SECRET}).status_code == 200
    created = submit(lms, "They negotiated secretly and avoided war.")
    assert receiver.requests == []  # delivery never blocks the request
    assert deliver(client) == 1
    override = {"points": 10, "reason": "Excellent."}
    instructor.post(f"/v1/submissions/{created['id']}/overrides", json=override)
    assert deliver(client) == 1
    assert receiver.events() == ["submission.scored", "submission.overridden"]
    first, second = receiver.requests
    assert verify(SECRET, first["headers"]["X-Grader-Signature"], first["body"])
    assert not verify(
        "wrong-secret-xxxxxxxx", first["headers"]["X-Grader-Signature"], first["body"]
    )
    assert not verify(SECRET, first["headers"]["X-Grader-Signature"], first["body"] + b" ")
    payload = json.loads(first["body"])
    assert payload["submission"]["id"] == created["id"]
    assert payload["submission"]["points"] == created["points"]
    # The integration's own view: student-safe, exactly as its POST answered.
    assert payload["submission"]["result"] == {**created["result"], "view": "student"}
    assert json.loads(second["body"])["submission"]["points"] == 10
    assert first["headers"]["X-Grader-Event"] == "submission.scored"
    assert first["headers"]["X-Grader-Delivery"] == payload["id"]
    deliveries = lms.get("/v1/callback/deliveries").json()["items"]
    assert {(d["status"], d["attempts"]) for d in deliveries} == {("delivered", 1)}


def test_failed_deliveries_are_retried_with_backoff_and_recorded(
    lms: TestClient, client: TestClient, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    lms.put("/v1/callback", json={"url": receiver.url, "secret": SECRET})
    submit(lms, "They negotiated secretly.")
    for _ in range(3):
        deliver(client)
    [delivery] = lms.get("/v1/callback/deliveries").json()["items"]
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 3
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 500, 204]
    assert [a["error"] for a in delivery["attempt_log"]] == ["HTTP 500", "HTTP 500", None]


def test_backoff_delays_the_next_attempt(
    lms: TestClient, client: TestClient, receiver: Receiver
) -> None:
    receiver.fail_first = 10
    lms.put("/v1/callback", json={"url": receiver.url, "secret": SECRET})
    submit(lms, "They negotiated secretly.")
    state = client.app.state  # type: ignore[attr-defined]
    policy = DeliveryPolicy(base_delay_seconds=60)
    assert deliver_due(state.sessionmaker, policy=policy) == 1
    assert deliver_due(state.sessionmaker, policy=policy) == 0  # not due for a minute
    [delivery] = lms.get("/v1/callback/deliveries").json()["items"]
    assert delivery["status"] == "pending"
    assert delivery["attempts"] == 1


def test_unreachable_receiver_gives_up_after_max_attempts(
    lms: TestClient, client: TestClient
) -> None:
    lms.put("/v1/callback", json={"url": "http://127.0.0.1:9/unreachable", "secret": SECRET})
    submit(lms, "They negotiated secretly.")
    for _ in range(3):
        deliver(client, max_attempts=3, timeout_seconds=2)
    [delivery] = lms.get("/v1/callback/deliveries").json()["items"]
    assert (delivery["status"], delivery["attempts"]) == ("failed", 3)
    assert all(
        a["status_code"] is None and "Connect" in a["error"] for a in delivery["attempt_log"]
    )


def test_no_callback_without_a_url_or_for_other_integrations(
    lms: TestClient, other_lms: TestClient, client: TestClient, receiver: Receiver
) -> None:
    other_lms.put("/v1/callback", json={"url": receiver.url, "secret": SECRET})
    submit(lms, "They negotiated secretly.")
    assert deliver(client) == 0
    assert lms.get("/v1/callback").json() == {"url": None, "configured": False}
    other_lms.delete("/v1/callback")
    submit(other_lms, "They negotiated secretly.")
    assert deliver(client) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.org/x", "secret": SECRET},
        {"url": "not a url", "secret": SECRET},
        {"url": "http://127.0.0.1/x", "secret": "short"},
    ],
)
def test_invalid_callback_settings_are_422(lms: TestClient, body: dict[str, str]) -> None:
    assert lms.put("/v1/callback", json=body).status_code == 422


def test_background_worker_delivers_without_being_asked(
    settings: Settings, receiver: Receiver
) -> None:
    live = settings.model_copy(update={"worker_enabled": True, "worker_poll_seconds": 0.05})
    app = create_app(live)
    with TestClient(app, headers=auth(ADMIN_KEY)) as admin:
        lms = client_as(app, create_key(admin, "integration"))
        lms.put("/v1/callback", json={"url": receiver.url, "secret": SECRET})
        submit(lms, "They negotiated secretly.")
        deadline = time.monotonic() + 10
        while not receiver.requests:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert receiver.events() == ["submission.scored"]
