"""Access log lines, request ids and Prometheus metrics."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from prometheus_client import REGISTRY
from pydantic import SecretStr

from service.config import Settings
from service.domain.jobs.service import JobPolicy, run_next_job
from service.logging import JsonFormatter
from service.main import create_app
from tests.conftest import ADMIN_KEY, auth
from tests.factories import submit

Q = "backchannel-q1"
METRICS_TOKEN = "metrics-scrape-token-for-tests"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """/metrics is served only with a token (off by default): these tests scrape it."""
    return settings.model_copy(update={"metrics_token": SecretStr(METRICS_TOKEN)})


def scrape(client: TestClient) -> Response:
    return client.get("/metrics", headers=auth(METRICS_TOKEN))


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "service.access"]


def test_one_access_line_per_request_with_route_template_and_request_id(
    lms: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    submission = submit(lms, "They talked secretly.", learner_id="learner-secret-7")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="service"):
        response = lms.get(
            f"/v1/submissions/{submission['id']}?learner_id=learner-secret-7",
            headers={"X-Request-ID": "trace-42"},
        )
    assert response.headers["x-request-id"] == "trace-42"
    [record] = access_records(caplog)
    assert record.levelno == logging.INFO
    assert record.__dict__["method"] == "GET"
    assert record.__dict__["route"] == "/v1/submissions/{submission_id}"
    assert record.__dict__["status"] == 200
    assert record.__dict__["duration_ms"] >= 0
    assert record.__dict__["request_id"] == "trace-42"
    line = record.getMessage()
    assert line.startswith("GET /v1/submissions/{submission_id} 200 ")
    assert submission["id"] not in line
    assert "learner-secret-7" not in line  # no query string


def test_json_access_line_has_structured_fields(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="service"):
        client.get("/v1/questions/no-such-question", headers={"X-Request-ID": "req-1"})
    [record] = access_records(caplog)
    payload = json.loads(JsonFormatter().format(record))
    assert payload["request_id"] == "req-1"
    assert payload["logger"] == "service.access"
    assert payload["level"] == "INFO"
    assert (payload["method"], payload["route"], payload["status"]) == (
        "GET",
        "/v1/questions/{question_id}",
        404,
    )
    assert isinstance(payload["duration_ms"], float)


def test_unmatched_paths_and_feedback_tokens_never_become_labels(
    lms: TestClient, anon: TestClient, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = submit(lms, "They talked secretly.")["feedback_url"].rsplit("/", 1)[1]
    with caplog.at_level(logging.INFO, logger="service"):
        assert anon.get(f"/v1/feedback/{token}").status_code == 200
        assert anon.get("/no/such/path/abc123").status_code == 404
    routes = [r.__dict__["route"] for r in access_records(caplog)]
    assert routes == ["/v1/feedback/{token}", "<unmatched>"]
    text = scrape(client).text
    assert token not in text
    assert "abc123" not in text
    assert 'route="/v1/feedback/{token}"' in text
    assert "\n".join(caplog.messages).count(token) == 0


def test_metrics_count_requests_by_route_and_status(client: TestClient) -> None:
    labels = {"method": "GET", "route": "/v1/questions/{question_id}", "status": "404"}
    before = sample("grader_http_requests_total", **labels)
    count_before = sample("grader_http_request_duration_seconds_count", **labels)
    client.get("/v1/questions/nope-1")
    client.get("/v1/questions/nope-2")
    assert sample("grader_http_requests_total", **labels) == before + 2
    assert sample("grader_http_request_duration_seconds_count", **labels) == count_before + 2
    response = scrape(client)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE grader_http_request_duration_seconds histogram" in response.text
    assert "_created" not in response.text


def test_metrics_record_scoring_time_and_submissions(lms: TestClient) -> None:
    scored_before = sample("grader_scoring_duration_seconds_count")
    submissions_before = sample("grader_submissions_total")
    submit(lms, "They talked secretly.")
    submit(lms, "They negotiated in private.", learner_id="learner-2")
    assert sample("grader_scoring_duration_seconds_count") == scored_before + 2
    # No question label: the scrape credential must not learn which questions exist.
    assert sample("grader_submissions_total") == submissions_before + 2
    assert sample("grader_scoring_duration_seconds_sum") > 0


def test_metrics_show_rescoring_job_progress(
    client: TestClient, lms: TestClient, instructor: TestClient
) -> None:
    for n in range(3):
        submit(lms, "They talked secretly.", learner_id=f"learner-{n}")
    unchanged_before = sample("grader_rescored_submissions_total", outcome="unchanged")
    instructor.post(f"/v1/questions/{Q}/rescore")
    queued = scrape(client).text
    assert 'grader_rescore_jobs{status="queued"} 1.0' in queued
    assert 'grader_rescore_job_submissions{state="total"} 3.0' in queued
    assert 'grader_rescore_job_submissions{state="processed"} 0.0' in queued
    state = client.app.state  # type: ignore[attr-defined]
    run_next_job(state.sessionmaker, state.graders, JobPolicy())
    done = scrape(client).text
    assert 'grader_rescore_jobs{status="queued"} 0.0' in done
    assert 'grader_rescore_jobs{status="succeeded"} 1.0' in done
    assert 'grader_rescore_job_submissions{state="total"} 0.0' in done
    assert sample("grader_rescored_submissions_total", outcome="unchanged") == unchanged_before + 3


@pytest.fixture
def token_app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings.model_copy(update={"metrics_token": SecretStr("scrape-me-please")}))
    with TestClient(app):
        yield app


def test_metrics_token_when_configured(token_app: FastAPI) -> None:
    with TestClient(token_app) as scraper:
        assert scraper.get("/metrics").status_code == 401
        # An API key is not the metrics token.
        assert scraper.get("/metrics", headers=auth(ADMIN_KEY)).status_code == 401
        assert scraper.get("/metrics", headers=auth("scrape-me-please")).status_code == 200


def test_metrics_can_be_turned_off(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"metrics_enabled": False}))
    with TestClient(app) as test_client:
        assert scrape(test_client).status_code == 404  # even with the token


def test_metrics_are_not_in_the_openapi_document(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]
