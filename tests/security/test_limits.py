"""Every documented size limit, at its boundary: within is accepted, one over is a clear
413 or 422 problem document. (The single-answer and batch-size cases that already live in
tests/api are not repeated here.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.routers.submissions import MAX_BATCH_ITEMS
from service.config import Settings
from service.domain.submissions.schemas import MAX_ANSWER_CHARS, MAX_PAGE_SIZE
from service.main import create_app
from tests.conftest import ADMIN_KEY, auth, create_key

Q = "backchannel-q1"
DEFAULT_BODY_LIMIT: int = Settings.model_fields["max_body_bytes"].default
ITEM = {"question_id": Q, "learner_id": "s1", "answer": "They talked secretly."}


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


@pytest.mark.parametrize(
    ("path", "limit", "status"),
    [
        # 0, 101 and "ten" on /v1/submissions: tests/api/test_submissions.py
        ("/v1/submissions", MAX_PAGE_SIZE, 200),
        ("/v1/submissions", 10**30, 422),
        ("/v1/callback/deliveries", 0, 422),
        ("/v1/callback/deliveries", 100, 200),
        ("/v1/callback/deliveries", 101, 422),
    ],
)
def test_page_size_limit(lms: TestClient, path: str, limit: int, status: int) -> None:
    response = lms.get(path, params={"limit": limit})
    if status == 200:
        assert response.status_code == 200
    else:
        body = assert_problem(response, 422, "validation_error")
        assert body["errors"][0]["field"] == "limit"


def test_answer_length_limit_applies_to_each_batch_item(lms: TestClient) -> None:
    items = [
        {**ITEM, "learner_id": "at-limit", "answer": "a" * MAX_ANSWER_CHARS},
        {**ITEM, "learner_id": "over", "answer": "a" * (MAX_ANSWER_CHARS + 1)},
    ]
    response = lms.post("/v1/submissions/batch", json={"items": items})
    assert response.status_code == 200
    first, second = response.json()["items"]
    assert first["status"] == 201
    assert second["status"] == 422
    assert "at most 10000 characters" in second["error"]["detail"]
    # The over-long answer is not echoed back.
    assert "a" * 100 not in json.dumps(second)


def test_a_full_batch_of_maximum_answers_is_refused_by_the_body_limit(lms: TestClient) -> None:
    # The limits compose: 500 answers of 10,000 characters would be 5 MB, far over the body
    # limit, so the batch limit can never be used to push a huge body through.
    items = [{**ITEM, "learner_id": f"s{i}", "answer": "a" * MAX_ANSWER_CHARS} for i in range(30)]
    response = lms.post("/v1/submissions/batch", json={"items": items})
    assert_problem(response, 413, "payload_too_large")
    assert MAX_BATCH_ITEMS * MAX_ANSWER_CHARS > DEFAULT_BODY_LIMIT


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/submissions/batch"),
        ("POST", "/v1/questions"),
        ("PUT", f"/v1/questions/{Q}/rubric"),
        ("POST", "/v1/keys"),
        ("PUT", "/v1/callback"),
    ],
)
def test_body_limit_applies_to_every_endpoint(client: TestClient, method: str, path: str) -> None:
    body = {"padding": "x" * (DEFAULT_BODY_LIMIT + 1)}
    response = client.request(method, path, json=body)
    assert_problem(response, 413, "payload_too_large")


def test_body_limit_is_configurable_and_exact(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"max_body_bytes": 2048}))
    with TestClient(app, headers=auth(ADMIN_KEY)) as admin:
        lms = TestClient(app, headers=auth(create_key(admin, "integration")))
        envelope = len(json.dumps({**ITEM, "answer": ""}).encode())
        fits = json.dumps({**ITEM, "answer": "a" * (2048 - envelope)}).encode()
        assert len(fits) == 2048
        headers = {"content-type": "application/json"}
        assert lms.post("/v1/submissions", content=fits, headers=headers).status_code == 201
        over = json.dumps({**ITEM, "answer": "a" * (2049 - envelope)}).encode()
        response = lms.post("/v1/submissions", content=over, headers=headers)
        assert_problem(response, 413, "payload_too_large")
        assert "2048 bytes" in response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"learner_id": "x" * 256}, "learner_id"),
        ({"question_id": "q" * 65}, "question_id"),
        ({"cursor": "c" * 1025}, "cursor"),
    ],
)
def test_query_parameter_lengths_are_limited(
    instructor: TestClient, params: dict[str, str], field: str
) -> None:
    body = assert_problem(instructor.get("/v1/submissions", params=params), 422, "validation_error")
    assert body["errors"][0]["field"] == field
