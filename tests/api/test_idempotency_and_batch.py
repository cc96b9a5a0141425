"""LMS retries and bursts: idempotent POSTs and batches with mixed items."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

Q = "backchannel-q1"
BODY = {"question_id": Q, "learner_id": "s1", "answer": "They negotiated secretly."}


def count_submissions(client: TestClient) -> int:
    return len(client.get("/v1/submissions", params={"limit": 100}).json()["items"])


def post(client: TestClient, body: Any, key: str | None, path: str = "/v1/submissions") -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(path, json=body, headers=headers)


def test_retry_with_the_same_key_replays_the_original(lms: TestClient, client: TestClient) -> None:
    first = post(lms, BODY, "attempt-1")
    retry = post(lms, BODY, "attempt-1")
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert count_submissions(client) == 1


def test_same_key_with_a_different_body_is_refused(lms: TestClient, client: TestClient) -> None:
    assert post(lms, BODY, "k").status_code == 201
    response = post(lms, {**BODY, "answer": "Something else entirely."}, "k")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert count_submissions(client) == 1


def test_keys_are_per_integration(
    lms: TestClient, other_lms: TestClient, client: TestClient
) -> None:
    assert post(lms, BODY, "shared").status_code == 201
    assert post(other_lms, BODY, "shared").status_code == 201
    assert count_submissions(client) == 2


def test_without_a_key_each_post_is_a_new_submission(lms: TestClient, client: TestClient) -> None:
    post(lms, BODY, None)
    post(lms, BODY, None)
    assert count_submissions(client) == 2


def test_a_failed_request_does_not_burn_the_key(lms: TestClient, client: TestClient) -> None:
    assert post(lms, {**BODY, "question_id": "nope"}, "k2").status_code == 404
    assert post(lms, {**BODY, "question_id": "nope"}, "k2").status_code == 404
    assert post(lms, BODY, "k3").status_code == 201
    assert count_submissions(client) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\tkey"])
def test_malformed_idempotency_keys_are_422(lms: TestClient, key: str) -> None:
    response = lms.post("/v1/submissions", json=BODY, headers={"Idempotency-Key": key})
    assert response.status_code == 422


def test_concurrent_retries_create_one_submission(lms: TestClient, client: TestClient) -> None:
    """Eight copies of one request race: one is stored, all get the same answer."""
    barrier = threading.Barrier(8)

    def attempt(_: int) -> tuple[int, Any]:
        barrier.wait()
        response = post(lms, BODY, "deadline-burst")
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(8)))
    statuses = {status for status, _ in results}
    assert statuses == {201}, results
    assert len({body["id"] for _, body in results}) == 1
    assert count_submissions(client) == 1


def test_batch_stores_good_items_and_reports_bad_ones(lms: TestClient, client: TestClient) -> None:
    items = [
        {"question_id": Q, "learner_id": "a", "answer": "They negotiated secretly."},
        {"question_id": Q, "learner_id": "b", "answer": "   "},
        {"question_id": "unknown-question", "learner_id": "c", "answer": "text"},
        {"question_id": "backchannel-q2", "learner_id": "d", "answer": "Messages moved quickly."},
        {"learner_id": "e"},
        "not an object",
    ]
    response = lms.post("/v1/submissions/batch", json={"items": items})
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["failed"]) == (2, 4)
    by_index = {item["index"]: item for item in body["items"]}
    assert [by_index[i]["status"] for i in range(6)] == [201, 422, 404, 201, 422, 422]
    assert by_index[0]["submission"]["learner_id"] == "a"
    assert by_index[1]["error"]["errors"][0]["field"] == "answer"
    assert by_index[2]["error"]["code"] == "not_found"
    assert {e["field"] for e in by_index[4]["error"]["errors"]} == {"question_id", "answer"}
    stored = client.get("/v1/submissions").json()["items"]
    assert sorted(s["learner_id"] for s in stored) == ["a", "d"]


def test_batch_is_idempotent(lms: TestClient, client: TestClient) -> None:
    payload = {"items": [BODY, {**BODY, "learner_id": "s2"}]}
    first = post(lms, payload, "batch-1", "/v1/submissions/batch")
    again = post(lms, payload, "batch-1", "/v1/submissions/batch")
    assert first.json() == again.json()
    assert count_submissions(client) == 2


@pytest.mark.parametrize(("size", "status"), [(0, 422), (500, 200), (501, 422)])
def test_batch_size_limit(lms: TestClient, size: int, status: int) -> None:
    items = [{**BODY, "learner_id": f"s{i}", "answer": "secretly"} for i in range(size)]
    assert lms.post("/v1/submissions/batch", json={"items": items}).status_code == status
