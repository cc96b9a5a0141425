"""What a deployment exposes: idempotency records (hashed keys, sealed responses, expiry),
/metrics (token only, no identifying labels), links in responses (trusted hosts only), the
client address behind proxies, and batches counted per item by the rate limit."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, func, select, update

from service.config import Settings
from service.db.base import utcnow
from service.db.models import IdempotencyRecord, Submission
from service.domain.idempotency import service as idempotency_service
from service.main import create_app
from service.worker import Housekeeping, run_once
from tests.conftest import ADMIN_KEY, auth, create_key

Q = "backchannel-q1"
BODY = {"question_id": Q, "learner_id": "learner-exposure-1", "answer": "They talked secretly."}
METRICS_TOKEN = "scrape-token-0123456789abcdef"


@contextmanager
def started(settings: Settings, **changes: Any) -> Iterator[tuple[FastAPI, TestClient]]:
    app = create_app(settings.model_copy(update=changes))
    with TestClient(app, headers=auth(ADMIN_KEY)) as admin:
        yield app, admin


def post(client: TestClient, body: Any, key: str | None, path: str = "/v1/submissions") -> Any:
    return client.post(path, json=body, headers={"Idempotency-Key": key} if key else {})


def token_of(feedback_url: str) -> str:
    return feedback_url.rsplit("/", 1)[1]


def records(engine: Engine) -> list[IdempotencyRecord]:
    with engine.connect() as connection:
        rows = connection.execute(select(IdempotencyRecord.__table__)).all()
    return [IdempotencyRecord(**row._mapping) for row in rows]


def age_records(engine: Engine, days: float) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(IdempotencyRecord).values(created_at=utcnow() - timedelta(days=days))
        )


def count_rows(engine: Engine, model: type[Any]) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(model)) or 0


# --- Idempotency records ---------------------------------------------------------------


def test_record_stores_no_key_and_no_token_and_replays_byte_for_byte(
    lms: TestClient, clean_engine: Engine
) -> None:
    key = "8d5f0c1e-4c1b-4d0e-9a53-6f1f2b7c9e11"
    first = post(lms, BODY, key)
    assert first.status_code == 201
    token = token_of(first.json()["feedback_url"])
    [record] = records(clean_engine)
    assert record.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert record.status_code == 201
    stored = b"|".join(
        str(value).encode() if not isinstance(value, bytes) else value
        for value in (record.key_hash, record.request_hash, record.sealed_response)
    )
    for secret in (token, key, BODY["learner_id"], BODY["answer"]):
        assert secret.encode() not in stored
    assert len(record.sealed_response or b"") == 12 + len(first.content) + 16  # nonce, tag

    replay = post(lms, BODY, key)
    assert replay.status_code == 201
    assert replay.content == first.content
    assert replay.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert replay.headers["idempotent-replayed"] == "true"


def test_batch_record_is_sealed_too(lms: TestClient, clean_engine: Engine) -> None:
    items = [{**BODY, "learner_id": f"learner-b{n}"} for n in range(3)]
    first = post(lms, {"items": items}, "batch-key-1", "/v1/submissions/batch")
    assert first.status_code == 200
    tokens = [token_of(item["submission"]["feedback_url"]) for item in first.json()["items"]]
    [record] = records(clean_engine)
    assert all(token.encode() not in (record.sealed_response or b"") for token in tokens)
    replay = post(lms, {"items": items}, "batch-key-1", "/v1/submissions/batch")
    assert (replay.status_code, replay.content) == (200, first.content)
    assert count_rows(clean_engine, Submission) == 3


def test_an_expired_key_counts_as_new(lms: TestClient, clean_engine: Engine) -> None:
    first = post(lms, BODY, "old-key")
    age_records(clean_engine, 7.01)
    # Even with another body: the old record no longer binds the key.
    again = post(lms, {**BODY, "answer": "They negotiated in private."}, "old-key")
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    assert count_rows(clean_engine, Submission) == 2
    assert count_rows(clean_engine, IdempotencyRecord) == 1
    # The new record is fresh and replays.
    assert post(lms, {**BODY, "answer": "They negotiated in private."}, "old-key").content == (
        again.content
    )


def test_a_record_younger_than_the_ttl_still_replays(lms: TestClient, clean_engine: Engine) -> None:
    first = post(lms, BODY, "young-key")
    age_records(clean_engine, 6.99)
    replay = post(lms, BODY, "young-key")
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content


def test_the_ttl_is_a_setting(settings: Settings, clean_engine: Engine) -> None:
    with started(settings, idempotency_ttl_days=1) as (app, admin):
        integration = TestClient(app, headers=auth(create_key(admin, "integration")))
        post(integration, BODY, "one-day")
        age_records(clean_engine, 1.01)
        assert "idempotent-replayed" not in post(integration, BODY, "one-day").headers
        assert count_rows(clean_engine, Submission) == 2


def test_worker_deletes_expired_records_at_most_once_per_interval(
    lms: TestClient, app: FastAPI, settings: Settings, clean_engine: Engine
) -> None:
    for n in range(3):
        post(lms, {**BODY, "learner_id": f"learner-{n}"}, f"key-{n}")
    age_records(clean_engine, 8)
    post(lms, BODY, "fresh-key")
    state = app.state
    housekeeping = Housekeeping(interval_seconds=3600)
    run_once(state.sessionmaker, state.graders, settings, housekeeping)
    assert [r.key_hash for r in records(clean_engine)] == [hashlib.sha256(b"fresh-key").hexdigest()]
    # Within the interval the sweep does not run again, even with something to delete.
    age_records(clean_engine, 8)
    run_once(state.sessionmaker, state.graders, settings, housekeeping)
    assert count_rows(clean_engine, IdempotencyRecord) == 1
    run_once(state.sessionmaker, state.graders, settings, Housekeeping())
    assert count_rows(clean_engine, IdempotencyRecord) == 0
    assert count_rows(clean_engine, Submission) == 4  # only the records go


def test_cleanup_deletes_in_bounded_batches(
    lms: TestClient, app: FastAPI, clean_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotency_service, "CLEANUP_BATCH_SIZE", 2)
    monkeypatch.setattr(idempotency_service, "CLEANUP_MAX_BATCHES", 2)
    for n in range(5):
        post(lms, {**BODY, "learner_id": f"learner-{n}"}, f"key-{n}")
    age_records(clean_engine, 8)
    ttl = timedelta(days=7)
    assert idempotency_service.delete_expired(app.state.sessionmaker, ttl=ttl) == 4
    assert idempotency_service.delete_expired(app.state.sessionmaker, ttl=ttl) == 1
    assert idempotency_service.delete_expired(app.state.sessionmaker, ttl=ttl) == 0


# --- /metrics ----------------------------------------------------------------------------


def test_metrics_are_off_without_a_token(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=auth("anything-at-all-here")).status_code == 404


def test_metrics_need_the_token_and_name_no_question_or_learner(settings: Settings) -> None:
    with started(settings, metrics_token=SecretStr(METRICS_TOKEN)) as (app, admin):
        integration = TestClient(app, headers=auth(create_key(admin, "integration")))
        answer = {**BODY, "learner_id": "learner-metrics-42"}
        assert integration.post("/v1/submissions", json=answer).status_code == 201
        assert admin.get(f"/v1/questions/{Q}").status_code == 200
        assert TestClient(app).get("/metrics").status_code == 401
        assert admin.get("/metrics").status_code == 401  # an API key is not the token
        response = TestClient(app).get("/metrics", headers=auth(METRICS_TOKEN))
        assert response.status_code == 200
        assert "grader_submissions_total " in response.text
        for identifier in (Q, "backchannel", "learner-metrics-42", "question_id="):
            assert identifier not in response.text


def test_metrics_token_must_not_be_trivially_short(settings: Settings) -> None:
    with pytest.raises(ValueError, match="metrics_token"):
        Settings.model_validate({**settings.model_dump(), "metrics_token": "short"})


# --- Links in responses --------------------------------------------------------------------


def feedback_urls(client: TestClient, host: str) -> list[str]:
    headers = {"Host": host}
    single = client.post("/v1/submissions", json=BODY, headers=headers).json()
    batch = client.post("/v1/submissions/batch", json={"items": [BODY]}, headers=headers).json()
    # Reading a submission back never shows a link (only its hash is stored); a new one
    # is issued on request.
    listed = client.get("/v1/submissions", headers=headers).json()["items"]
    assert {item["feedback_url"] for item in listed} == {None}
    reissued = client.post(f"/v1/submissions/{single['id']}/feedback-link", headers=headers)
    return [
        single["feedback_url"],
        batch["items"][0]["submission"]["feedback_url"],
        reissued.json()["feedback_url"],
    ]


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8000",
        "localhost@evil.example",
        "evil.example#localhost",
        "localhost:80@evil.example",
        "127.0.0.1.evil.example",
        "[::1]evil.example",
        "",
    ],
)
def test_an_untrusted_host_header_never_reaches_a_link(lms: TestClient, host: str) -> None:
    urls = feedback_urls(lms, host)
    assert len(urls) == 3
    for url in urls:
        assert "evil" not in url
        # The first trusted host, on the port the server listens on (TestClient: 80).
        assert url == f"http://127.0.0.1/v1/feedback/{token_of(url)}"


@pytest.mark.parametrize(
    ("host", "base"),
    [
        ("localhost:8123", "http://localhost:8123"),
        ("LOCALHOST", "http://localhost"),
        ("127.0.0.1:9000", "http://127.0.0.1:9000"),
    ],
)
def test_a_trusted_host_header_is_used(lms: TestClient, host: str, base: str) -> None:
    for url in feedback_urls(lms, host):
        assert url == f"{base}/v1/feedback/{token_of(url)}"


def test_trusted_hosts_and_the_configured_host_are_settings(settings: Settings) -> None:
    changes = {"trusted_hosts": "grader.school.example", "host": "grader.internal"}
    with started(settings, **changes) as (app, admin):
        integration = TestClient(app, headers=auth(create_key(admin, "integration")))
        for host, base in [
            ("grader.school.example", "http://grader.school.example"),
            ("grader.internal:8000", "http://grader.internal:8000"),
            ("localhost", "http://grader.school.example"),  # no longer in the list
            ("evil.example", "http://grader.school.example"),
        ]:
            url = feedback_urls(integration, host)[0]
            assert url == f"{base}/v1/feedback/{token_of(url)}"


def test_the_public_base_url_wins_over_any_host(settings: Settings) -> None:
    changes = {"public_base_url": "https://grader.school.example/"}
    with started(settings, **changes) as (app, admin):
        integration = TestClient(app, headers=auth(create_key(admin, "integration")))
        for host in ("evil.example", "localhost"):
            for url in feedback_urls(integration, host):
                assert url == f"https://grader.school.example/v1/feedback/{token_of(url)}"


def test_trusted_hosts_setting_refuses_patterns_and_ports() -> None:
    for value in ("*.example.org", "grader.example:443", "http://grader.example"):
        with pytest.raises(ValueError, match="trusted_hosts"):
            Settings(trusted_hosts=value)


# --- Client address behind proxies ---------------------------------------------------------


def failed_auth(app: FastAPI, forwarded_for: str) -> int:
    anon = TestClient(app, headers=auth("grk_not-a-real-key-000000000000000000000000"))
    response = anon.get("/v1/questions", headers={"X-Forwarded-For": forwarded_for})
    return response.status_code


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(settings: Settings) -> None:
    with started(settings, rate_limit_failed_auth="3/day") as (app, _admin):
        assert [failed_auth(app, f"198.51.100.{n}") for n in range(4)] == [401, 401, 401, 429]


def test_x_forwarded_for_from_a_trusted_peer_sets_the_counted_address(
    settings: Settings,
) -> None:
    # The TestClient's peer address is the literal "testclient".
    with started(settings, rate_limit_failed_auth="3/day", forwarded_allow_ips="testclient") as (
        app,
        _admin,
    ):
        assert [failed_auth(app, f"198.51.100.{n}") for n in range(4)] == [401] * 4
        assert [failed_auth(app, "198.51.100.77") for _ in range(4)] == [401, 401, 401, 429]
        # The proxy's own requests without the header count for the proxy.
        assert failed_auth(app, "") == 401


def test_trusted_proxies_may_be_networks_and_only_they_are_trusted(settings: Settings) -> None:
    changes = {"rate_limit_failed_auth": "2/day", "forwarded_allow_ips": "10.0.0.0/8"}
    with started(settings, **changes) as (app, _admin):
        key = auth("grk_not-a-real-key-000000000000000000000000")

        def status(peer: str, forwarded_for: str) -> int:
            client = TestClient(app, headers=key, client=(peer, 40000))
            return client.get(
                "/v1/questions", headers={"X-Forwarded-For": forwarded_for}
            ).status_code

        assert [status("10.1.2.3", f"203.0.113.{n}") for n in range(3)] == [401] * 3
        assert [status("192.0.2.9", f"203.0.113.{n}") for n in range(3)] == [401, 401, 429]


# --- Batches count their items -----------------------------------------------------------


def test_a_batch_costs_one_hit_per_item(settings: Settings, clean_engine: Engine) -> None:
    changes = {"rate_limit": "", "rate_limit_integration": "10/day", "rate_limit_failed_auth": ""}
    with started(settings, **changes) as (app, admin):
        integration = TestClient(app, headers=auth(create_key(admin, "integration")))

        def batch(size: int, key: str | None = None) -> Any:
            items = [{**BODY, "learner_id": f"learner-{key}-{n}"} for n in range(size)]
            return post(integration, {"items": items}, key, "/v1/submissions/batch")

        assert batch(5).status_code == 200  # 5 of 10 spent
        refused = batch(6, "too-big")  # its request counts (6), its items would make 11
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        assert count_rows(clean_engine, Submission) == 5
        assert count_rows(clean_engine, IdempotencyRecord) == 0
        assert batch(4).status_code == 200  # exactly fills the budget: 6 + 4
        assert integration.get("/v1/submissions").status_code == 429
        assert count_rows(clean_engine, Submission) == 9


def test_a_batch_larger_than_the_whole_budget_is_refused(
    settings: Settings, clean_engine: Engine
) -> None:
    changes = {"rate_limit": "", "rate_limit_integration": "3/day", "rate_limit_failed_auth": ""}
    with started(settings, **changes) as (app, admin):
        integration = TestClient(app, headers=auth(create_key(admin, "integration")))
        items = [{**BODY, "learner_id": f"learner-{n}"} for n in range(4)]
        response = integration.post("/v1/submissions/batch", json={"items": items})
        assert response.status_code == 429
        assert count_rows(clean_engine, Submission) == 0
        # Only the refused request itself was counted: two more fit.
        assert integration.post("/v1/submissions", json=BODY).status_code == 201
        assert integration.post("/v1/submissions", json=BODY).status_code == 201
        assert integration.post("/v1/submissions", json=BODY).status_code == 429


def test_a_replayed_batch_does_no_work_and_costs_one_request(
    settings: Settings, clean_engine: Engine
) -> None:
    changes = {"rate_limit": "", "rate_limit_integration": "5/day", "rate_limit_failed_auth": ""}
    with started(settings, **changes) as (app, admin):
        integration = TestClient(app, headers=auth(create_key(admin, "integration")))
        items = {"items": [{**BODY, "learner_id": f"learner-{n}"} for n in range(3)]}
        first = post(integration, items, "retry-me", "/v1/submissions/batch")
        replay = post(integration, items, "retry-me", "/v1/submissions/batch")
        assert (first.status_code, replay.status_code) == (200, 200)
        assert replay.content == first.content
        assert integration.get("/v1/submissions").status_code == 200  # 3 + 1 + 1 = 5
        assert integration.get("/v1/submissions").status_code == 429
