"""Bad input gets a clear problem-details error, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

VALID = {"question_id": "backchannel-q1", "learner_id": "s1", "answer": "They talked secretly."}


def assert_nothing_stored(client: TestClient) -> None:
    assert client.get("/v1/submissions").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({**VALID, "answer": ""}, "answer", "at least 1 character"),
        ({**VALID, "answer": "   \n\t "}, "answer", "must not be empty or only whitespace"),
        ({k: v for k, v in VALID.items() if k != "answer"}, "answer", "Field required"),
        ({k: v for k, v in VALID.items() if k != "learner_id"}, "learner_id", "Field required"),
        ({**VALID, "answer": 42}, "answer", "valid string"),
        ({**VALID, "answer": ["a"]}, "answer", "valid string"),
        ({**VALID, "answer": "x" * 10_001}, "answer", "at most 10000 characters"),
        ({**VALID, "answer": "bad\x00byte"}, "answer", "U+0000 at position 3"),
        ({**VALID, "answer": "bell\x07"}, "answer", "U+0007"),
        ({**VALID, "learner_id": "a\x1bb"}, "learner_id", "U+001B"),
        ({**VALID, "learner_id": "x" * 256}, "learner_id", "at most 255 characters"),
        ({**VALID, "extra": 1}, "extra", "Extra inputs are not permitted"),
        ({**VALID, "question_id": ""}, "question_id", "at least 1 character"),
        ({**VALID, "question_id": "a\x00b"}, "question_id", "should match pattern"),
        ({**VALID, "question_id": "Robert'); DROP TABLE submission;--"}, "question_id", "pattern"),
    ],
)
def test_invalid_bodies_are_422_with_the_field(
    client: TestClient, body: dict[str, Any], field: str, message: str
) -> None:
    response = client.post("/v1/submissions", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["errors"][0]["field"] == field
    assert message in problem["errors"][0]["message"]
    assert problem["detail"].startswith(f"{field}: ")
    # A 10,000-character answer is not echoed back in the error.
    assert len(response.text) < 2000
    assert_nothing_stored(client)


def test_tabs_and_newlines_in_answers_are_fine(client: TestClient) -> None:
    response = client.post(
        "/v1/submissions", json={**VALID, "answer": "Line one.\n\tLine two.\r\n"}
    )
    assert response.status_code == 201


def test_lone_surrogate_is_rejected(client: TestClient) -> None:
    raw = b'{"question_id": "backchannel-q1", "learner_id": "s1", "answer": "x\\ud800y"}'
    response = client.post(
        "/v1/submissions", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "answer"
    assert_nothing_stored(client)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"question_id": "backchannel-q1", "learner_id": "s1", "answer": "caf\xe9"}',
        b"\xff\xfe{not json",
        b'{"question_id": "backchannel-q1", "learner_id": ',
        b"",
        b"[]",
        b"null",
        b'"just a string"',
    ],
)
def test_undecodable_bodies_are_422(client: TestClient, raw: bytes) -> None:
    response = client.post(
        "/v1/submissions", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]
    assert_nothing_stored(client)


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_wrong_content_type_is_415(client: TestClient, content_type: str) -> None:
    response = client.post(
        "/v1/submissions",
        content=b'{"question_id": "backchannel-q1", "learner_id": "s1", "answer": "hi"}',
        headers={"content-type": content_type},
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert "application/json" in response.json()["detail"]
    assert_nothing_stored(client)


def test_deeply_nested_json_is_422(client: TestClient) -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    response = client.post(
        "/v1/submissions", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/questions/a%00b",
        "/v1/questions/%ff",
        "/v1/submissions?learner_id=a%00b",
        "/v1/submissions?question_id=a%00b",
        "/v1/submissions?learner_id=%1b",
    ],
)
def test_nul_and_control_characters_in_ids_are_422(client: TestClient, path: str) -> None:
    # PostgreSQL cannot store or compare NUL; these must never reach a query.
    response = client.get(path)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    response = client.post("/v1/submissions", json={**VALID, "answer": "word " * 60_000})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "exceeds the limit" in response.json()["detail"]
    assert_nothing_stored(client)


def test_streamed_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Any:
        yield b'{"question_id": "backchannel-q1", "learner_id": "s1", "answer": "'
        for _ in range(100):
            yield b"x" * 4096
        yield b'"}'

    response = client.post(
        "/v1/submissions", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert_nothing_stored(client)


def test_unknown_question_is_404_and_nothing_is_stored(client: TestClient) -> None:
    response = client.post("/v1/submissions", json={**VALID, "question_id": "nope"})
    assert response.status_code == 404
    assert response.json()["detail"] == "No question with id 'nope'."
    assert_nothing_stored(client)


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong_method = client.delete("/v1/questions")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"


def test_malformed_submission_id_is_422(client: TestClient) -> None:
    response = client.get("/v1/submissions/not-a-uuid")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "submission_id"
