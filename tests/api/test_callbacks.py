"""Signed callbacks to a real HTTP receiver on 127.0.0.1, with retries and an audit trail.

Receivers are verified with the Standard Webhooks library itself, as an LMS would.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook, WebhookVerificationError

from service.config import Settings
from service.db.models import CallbackDelivery
from service.domain.callbacks.service import deliver_due
from service.domain.callbacks.signing import standard_secret
from service.main import create_app
from service.worker import policies
from tests.conftest import ADMIN_KEY, auth, client_as, create_key
from tests.factories import submit
from tests.support.receiver import Receiver

# A Standard Webhooks secret as an integration would bring it (32 bytes, base64).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw8yF1vW0eTzU="
LEGACY_SECRET = "a-long-shared-secret-for-tests"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def state_of(client: TestClient) -> Any:
    return client.app.state  # type: ignore[attr-defined]


def deliver(client: TestClient, **policy: Any) -> int:
    """One worker round with the app's own settings (allowlist included), no backoff."""
    state = state_of(client)
    base = policies(state.settings)[1]
    return deliver_due(
        state.sessionmaker,
        policy=dataclasses.replace(base, **{"base_delay_seconds": 0, **policy}),
    )


def headers_of(request: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in request["headers"].items()}


def test_scored_and_overridden_results_are_posted_signed(
    lms: TestClient, instructor: TestClient, client: TestClient, receiver: Receiver
) -> None:
    put = lms.put("/v1/callback", json={"url": receiver.url, "secret": SECRET})
    assert put.status_code == 200
    assert put.json() == {"url": receiver.url, "configured": True, "secret": SECRET}
    created = submit(lms, "They negotiated secretly and avoided war.")
    assert receiver.requests == []  # delivery never blocks the request
    assert deliver(client) == 1
    override = {"points": 10, "reason": "Excellent."}
    instructor.post(f"/v1/submissions/{created['id']}/overrides", json=override)
    assert deliver(client) == 1
    assert receiver.events() == ["submission.scored", "submission.overridden"]
    first, second = receiver.requests
    payload = Webhook(SECRET).verify(first["body"], first["headers"])
    assert payload["submission"]["id"] == created["id"]
    assert payload["submission"]["points"] == created["points"]
    assert Webhook(SECRET).verify(second["body"], second["headers"])["submission"]["points"] == 10
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(first["body"], first["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(first["body"] + b" ", first["headers"])
    headers = headers_of(first)
    assert headers["x-grader-event"] == "submission.scored"
    assert headers["webhook-id"] == payload["id"]
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 300
    assert "x-grader-signature" not in headers
    # The integration's own view: student-safe, exactly as its POST answered.
    assert payload["submission"]["result"] == {**created["result"], "view": "student"}
    deliveries = lms.get("/v1/callback/deliveries").json()["items"]
    assert {(d["status"], d["attempts"]) for d in deliveries} == {("delivered", 1)}
    assert {d["id"] for d in deliveries} == {payload["id"], json.loads(second["body"])["id"]}


def test_without_a_secret_one_is_generated_and_shown_once(
    lms: TestClient, client: TestClient, receiver: Receiver
) -> None:
    put = lms.put("/v1/callback", json={"url": receiver.url}).json()
    secret = put["secret"]
    assert secret.startswith("whsec_")
    assert standard_secret(secret) == secret
    assert lms.get("/v1/callback").json() == {"url": receiver.url, "configured": True}
    submit(lms, "They negotiated secretly.")
    deliver(client)
    [request] = receiver.requests
    assert Webhook(secret).verify(request["body"], request["headers"])["event"] == (
        "submission.scored"
    )
    again = lms.put("/v1/callback", json={"url": receiver.url}).json()["secret"]
    assert again != secret


def test_a_plain_secret_keeps_working_in_its_standard_form(
    lms: TestClient, client: TestClient, receiver: Receiver
) -> None:
    put = lms.put("/v1/callback", json={"url": receiver.url, "secret": LEGACY_SECRET}).json()
    assert put["secret"] == standard_secret(LEGACY_SECRET)
    assert put["secret"] != LEGACY_SECRET
    submit(lms, "They negotiated secretly.")
    deliver(client)
    [request] = receiver.requests
    assert Webhook(put["secret"]).verify(request["body"], request["headers"])
    assert Webhook(LEGACY_SECRET.encode()).verify(request["body"], request["headers"])


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
    log = delivery["attempt_log"]
    assert [(a["outcome"], a["status_code"]) for a in log] == [
        ("http_status", 500),
        ("http_status", 500),
        ("delivered", 204),
    ]
    assert [set(a) for a in log] == [{"at", "outcome", "status_code"}] * 3
    # The webhook id is the delivery's, the same on every retry, so receivers can de-duplicate.
    assert {headers_of(r)["webhook-id"] for r in receiver.requests} == {delivery["id"]}
    for request in receiver.requests:
        Webhook(SECRET).verify(request["body"], request["headers"])


def test_backoff_delays_the_next_attempt(
    lms: TestClient, client: TestClient, receiver: Receiver
) -> None:
    receiver.fail_first = 10
    lms.put("/v1/callback", json={"url": receiver.url, "secret": SECRET})
    submit(lms, "They negotiated secretly.")
    assert deliver(client, base_delay_seconds=60) == 1
    assert deliver(client, base_delay_seconds=60) == 0  # not due for a minute
    [delivery] = lms.get("/v1/callback/deliveries").json()["items"]
    assert delivery["status"] == "pending"
    assert delivery["attempts"] == 1


def test_unreachable_receiver_gives_up_after_max_attempts_in_coarse_words(
    lms: TestClient, client: TestClient
) -> None:
    lms.put("/v1/callback", json={"url": "http://127.0.0.1:9/unreachable", "secret": SECRET})
    submit(lms, "They negotiated secretly.")
    for _ in range(3):
        deliver(client, max_attempts=3, timeout_seconds=2)
    response = lms.get("/v1/callback/deliveries")
    [delivery] = response.json()["items"]
    assert (delivery["status"], delivery["attempts"]) == ("failed", 3)
    assert [(a["outcome"], a["status_code"]) for a in delivery["attempt_log"]] == [
        ("connection_failed", None)
    ] * 3
    # No exception text or address of ours reaches the integration.
    for leak in ("Connect", "Errno", "refused", "127.0.0.1:9 "):
        assert leak not in json.dumps(delivery["attempt_log"])


def test_attempts_stored_before_outcomes_show_only_coarse_words(
    lms: TestClient, client: TestClient, receiver: Receiver
) -> None:
    lms.put("/v1/callback", json={"url": receiver.url, "secret": SECRET})
    submit(lms, "They negotiated secretly.")
    at = "2026-11-26T10:00:00+00:00"
    old_log = [
        {"at": at, "status_code": None, "error": "ConnectError: [Errno 111] Connection refused"},
        {"at": at, "status_code": 502, "error": "HTTP 502"},
        {"at": at, "status_code": 204, "error": None},
    ]
    factory: sessionmaker[Session] = state_of(client).sessionmaker
    with factory.begin() as session:
        session.execute(update(CallbackDelivery).values(attempt_log=old_log))
    [delivery] = lms.get("/v1/callback/deliveries").json()["items"]
    assert [(a["outcome"], a["status_code"]) for a in delivery["attempt_log"]] == [
        ("connection_failed", None),
        ("http_status", 502),
        ("delivered", 204),
    ]
    assert "Errno" not in json.dumps(delivery)


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
        {"url": "http://127.0.0.1/x", "secret": "whsec_not*base64*at*all*here"},
        {"url": "http://127.0.0.1/x", "secret": "whsec_c2hvcnQta2V5"},  # 9 bytes
        {"url": "http://127.0.0.1/x", "secret": ""},
    ],
)
def test_invalid_callback_settings_are_422(lms: TestClient, body: dict[str, str]) -> None:
    assert lms.put("/v1/callback", json=body).status_code == 422
    assert lms.get("/v1/callback").json() == {"url": None, "configured": False}


def statuses(client: TestClient) -> list[str]:
    factory: sessionmaker[Session] = state_of(client).sessionmaker
    with factory() as session:
        return list(session.scalars(select(CallbackDelivery.status)).all())


def test_deleting_the_callback_while_a_delivery_is_retrying_cancels_it(
    lms: TestClient, client: TestClient, receiver: Receiver
) -> None:
    receiver.fail_first = 1
    lms.put("/v1/callback", json={"url": receiver.url, "secret": SECRET})
    submit(lms, "They negotiated secretly.")
    assert deliver(client) == 1
    [delivery] = lms.get("/v1/callback/deliveries").json()["items"]
    assert (delivery["status"], delivery["attempts"]) == ("pending", 1)
    assert lms.delete("/v1/callback").status_code == 200
    assert deliver(client) == 0
    assert len(receiver.requests) == 1
    [delivery] = lms.get("/v1/callback/deliveries").json()["items"]
    assert (delivery["status"], delivery["attempts"]) == ("cancelled", 1)


def test_a_new_url_or_secret_cancels_what_was_queued_for_the_old_one(
    lms: TestClient, client: TestClient, receiver: Receiver
) -> None:
    other = Receiver().start()
    try:
        lms.put("/v1/callback", json={"url": receiver.url, "secret": SECRET})
        submit(lms, "They negotiated secretly.")
        lms.put("/v1/callback", json={"url": receiver.url, "secret": SECRET})  # unchanged
        assert statuses(client) == ["pending"]
        lms.put("/v1/callback", json={"url": other.url, "secret": SECRET})
        assert statuses(client) == ["cancelled"]
        submit(lms, "They negotiated secretly again.")
        lms.put("/v1/callback", json={"url": other.url, "secret": LEGACY_SECRET})
        assert statuses(client) == ["cancelled", "cancelled"]
        submit(lms, "A third answer.")
        assert deliver(client) == 1
        assert receiver.requests == []
        [request] = other.requests
        Webhook(LEGACY_SECRET.encode()).verify(request["body"], request["headers"])
    finally:
        other.stop()


def test_a_delivery_whose_key_now_has_another_url_is_cancelled_at_claim_not_sent(
    lms: TestClient, client: TestClient, receiver: Receiver
) -> None:
    """A delivery queued by a transaction that still saw the old URL (a race with PUT)."""
    other = Receiver().start()
    try:
        lms.put("/v1/callback", json={"url": receiver.url, "secret": SECRET})
        submit(lms, "They negotiated secretly.")
        lms.put("/v1/callback", json={"url": other.url, "secret": SECRET})
        factory: sessionmaker[Session] = state_of(client).sessionmaker
        with factory.begin() as session:
            session.execute(update(CallbackDelivery).values(status="pending"))
        assert deliver(client) == 0
        assert (receiver.requests, other.requests) == ([], [])
        assert statuses(client) == ["cancelled"]
    finally:
        other.stop()


def test_a_revoked_keys_deliveries_stop(
    lms: TestClient, client: TestClient, receiver: Receiver
) -> None:
    receiver.fail_first = 1
    lms.put("/v1/callback", json={"url": receiver.url, "secret": SECRET})
    submit(lms, "They negotiated secretly.")
    assert deliver(client) == 1
    key_id = next(k["id"] for k in client.get("/v1/keys").json()["items"] if k["name"] == "LMS one")
    assert client.delete(f"/v1/keys/{key_id}").status_code == 200
    assert statuses(client) == ["cancelled"]
    # Even a row that escaped the cancellation is skipped at claim time.
    factory: sessionmaker[Session] = state_of(client).sessionmaker
    with factory.begin() as session:
        session.execute(update(CallbackDelivery).values(status="pending"))
    assert deliver(client) == 0
    assert len(receiver.requests) == 1
    assert statuses(client) == ["cancelled"]


def test_a_slow_receiver_does_not_hold_up_another_integrations_delivery(
    lms: TestClient, other_lms: TestClient, client: TestClient, receiver: Receiver
) -> None:
    slow = Receiver(delay=5).start()
    try:
        lms.put("/v1/callback", json={"url": slow.url, "secret": SECRET})
        submit(lms, "They negotiated secretly.")  # queued first
        other_lms.put("/v1/callback", json={"url": receiver.url, "secret": SECRET})
        submit(other_lms, "They negotiated secretly.")
        assert deliver(client, timeout_seconds=2) == 2
    finally:
        slow.stop()
    [stuck] = lms.get("/v1/callback/deliveries").json()["items"]
    [fast] = other_lms.get("/v1/callback/deliveries").json()["items"]
    assert [(a["outcome"], a["status_code"]) for a in stuck["attempt_log"]] == [("timed_out", None)]
    assert (fast["status"], fast["attempt_log"][0]["outcome"]) == ("delivered", "delivered")
    fast_at = datetime.fromisoformat(fast["attempt_log"][0]["at"])
    stuck_at = datetime.fromisoformat(stuck["attempt_log"][0]["at"])
    assert fast_at < stuck_at


def test_one_destination_gets_at_most_its_share_of_a_round(
    lms: TestClient, client: TestClient, receiver: Receiver
) -> None:
    lms.put("/v1/callback", json={"url": receiver.url, "secret": SECRET})
    for n in range(3):
        submit(lms, f"They negotiated secretly, take {n}.")
    assert deliver(client, per_destination=2) == 2
    assert deliver(client, per_destination=2) == 1
    assert len(receiver.requests) == 3


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
    Webhook(SECRET).verify(receiver.requests[0]["body"], receiver.requests[0]["headers"])
