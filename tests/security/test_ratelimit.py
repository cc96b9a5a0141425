"""Rate limits: per API key (429 problem + Retry-After), a higher budget for integrations,
failed credentials per client address, off when empty, and shared through Redis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.api.ratelimit import KEY_PREFIX
from service.config import Settings
from service.main import create_app
from tests.conftest import ADMIN_KEY, auth, create_key

REDIS_URL = "redis://127.0.0.1:6379"


def started(settings: Settings, **changes: Any) -> Iterator[tuple[FastAPI, TestClient]]:
    app = create_app(settings.model_copy(update=changes))
    with TestClient(app, headers=auth(ADMIN_KEY)) as admin:
        yield app, admin


# Budgets are per day, not per minute: the sliding-window counter weighs the previous
# window's hits by how much of it is left, so a test that straddled a window's edge would
# get one request more than its budget (it did on a loaded CI machine, per minute). Across
# a day's edge a test of a few seconds has about a 1 in 20,000 chance.
@pytest.fixture
def limited(settings: Settings) -> Iterator[tuple[FastAPI, TestClient]]:
    # The admin key is limited like any other; the budget leaves room for creating keys.
    yield from started(
        settings,
        rate_limit="8/day",
        rate_limit_integration="12/day",
        rate_limit_failed_auth="",
    )


def assert_429(response: Any) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 86400


def test_each_key_has_its_own_budget(limited: tuple[FastAPI, TestClient]) -> None:
    app, admin = limited
    first = TestClient(app, headers=auth(create_key(admin, "instructor")))
    second = TestClient(app, headers=auth(create_key(admin, "instructor")))
    for _ in range(8):
        assert first.get("/v1/questions").status_code == 200
    refused = first.get("/v1/questions")
    assert_429(refused)
    assert "8 per 1 day" in refused.json()["detail"]
    # Another key is unaffected, and no key is needed where none is asked for.
    assert second.get("/v1/questions").status_code == 200
    assert first.get("/healthz").status_code == 200


def test_integrations_get_their_own_higher_budget(limited: tuple[FastAPI, TestClient]) -> None:
    app, admin = limited
    lms = TestClient(app, headers=auth(create_key(admin, "integration")))
    body = {"question_id": "backchannel-q1", "learner_id": "s", "answer": "secretly"}
    for _ in range(12):
        assert lms.post("/v1/submissions", json=body).status_code == 201
    assert_429(lms.post("/v1/submissions", json=body))


def test_a_refused_request_does_nothing(limited: tuple[FastAPI, TestClient]) -> None:
    app, admin = limited
    lms = TestClient(app, headers=auth(create_key(admin, "integration")))
    instructor = TestClient(app, headers=auth(create_key(admin, "instructor")))
    body = {"question_id": "backchannel-q1", "learner_id": "s", "answer": "secretly"}
    statuses = [lms.post("/v1/submissions", json=body).status_code for _ in range(14)]
    assert statuses == [201] * 12 + [429] * 2
    listed = instructor.get("/v1/submissions", params={"limit": 100}).json()["items"]
    assert len(listed) == 12


def test_empty_setting_turns_limits_off(settings: Settings) -> None:
    for app, admin in started(
        settings, rate_limit="", rate_limit_integration="", rate_limit_failed_auth=""
    ):
        assert app.state.rate_limiter is None
        anon = TestClient(app)
        assert all(admin.get("/v1/keys").status_code == 200 for _ in range(30))
        assert all(anon.get("/v1/keys").status_code == 401 for _ in range(30))


def test_failed_credentials_are_limited_per_address(settings: Settings) -> None:
    for app, admin in started(settings, rate_limit_failed_auth="5/day"):
        guesser = TestClient(app, headers=auth("grk_guess"))
        assert [guesser.get("/v1/keys").status_code for _ in range(5)] == [401] * 5
        # Refused before the key is even looked up: no oracle beyond the budget ...
        assert_429(guesser.get("/v1/keys"))
        assert_429(TestClient(app).get("/v1/keys"))
        # ... which is the price a valid key from the same address pays too.
        assert_429(admin.get("/v1/keys"))
        # Other clients are counted apart.
        elsewhere = TestClient(app, headers=auth(ADMIN_KEY), client=("10.1.2.3", 5000))
        assert elsewhere.get("/v1/keys").status_code == 200


def test_successful_requests_never_use_the_failed_credential_budget(settings: Settings) -> None:
    for _, admin in started(settings, rate_limit_failed_auth="3/day"):
        assert all(admin.get("/v1/keys").status_code == 200 for _ in range(10))


def test_unknown_feedback_links_count_as_failed_credentials(settings: Settings) -> None:
    for app, _ in started(settings, rate_limit_failed_auth="3/day"):
        student = TestClient(app)
        unknown = "/v1/feedback/" + "x" * 43
        assert [student.get(unknown).status_code for _ in range(3)] == [404] * 3
        assert_429(student.get(unknown))


def test_invalid_rate_limit_setting_fails_at_start(settings: Settings) -> None:
    with pytest.raises(ValueError, match="GRADER_RATE_LIMIT="):
        create_app(settings.model_copy(update={"rate_limit": "lots"}))


def _redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.mark.skipif(not _redis_available(), reason="no Redis at 127.0.0.1:6379")
def test_redis_storage_shares_one_budget_between_processes(settings: Settings) -> None:
    # Two apps stand in for two worker processes; only the storage connects them. Key ids
    # are random, so runs never share counters.
    changes = {"rate_limit": "6/day", "rate_limit_storage": REDIS_URL}
    for first_app, admin in started(settings, **changes):
        key = create_key(admin, "instructor")
        key_id = admin.get("/v1/keys").json()["items"][-1]["id"]
        second_app = create_app(settings.model_copy(update=changes))
        with TestClient(second_app) as _:
            one = TestClient(first_app, headers=auth(key))
            two = TestClient(second_app, headers=auth(key))
            statuses = [c.get("/v1/questions").status_code for c in (one, two) * 4]
            assert statuses == [200] * 6 + [429] * 2
    # Counted under the key's id, never its secret.
    with redis.Redis.from_url(REDIS_URL, decode_responses=True) as store:
        stored = [str(name) for name in store.scan_iter(match=f"{KEY_PREFIX}*{key_id}*")]
    assert stored
    assert not any(key in name for name in stored)


def test_unreachable_storage_lets_requests_through(settings: Settings) -> None:
    # Port 9 (discard): nothing listens. Limiting protects capacity; it must not stop the
    # service when its storage is down.
    changes = {"rate_limit": "1/day", "rate_limit_storage": "redis://127.0.0.1:9"}
    for _, admin in started(settings, **changes):
        assert [admin.get("/v1/keys").status_code for _ in range(3)] == [200] * 3
