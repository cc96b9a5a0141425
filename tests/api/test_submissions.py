from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from service.scoring import ENGINE_VERSION
from tests.conftest import SEED_QUESTION_IDS
from tests.factories import reference_answer, rubric_data, submit

PARTIAL = "Kennedy and Khrushchev sent each other secret messages."


@pytest.mark.parametrize("question_id", SEED_QUESTION_IDS)
def test_reference_answer_scores_max_points(client: TestClient, question_id: str) -> None:
    body = submit(client, reference_answer(question_id), question_id=question_id)
    assert body["status"] == "scored"
    assert body["result"]["points"] == rubric_data(question_id)["max_points"]
    assert body["result"]["score"] == 1.0
    assert body["result"]["components"] == {"keyword_coverage": 1.0, "tfidf_similarity": 1.0}


def test_submission_response_explains_the_score(client: TestClient) -> None:
    body = submit(client, PARTIAL, learner_id="stu-42")
    assert uuid.UUID(body["id"])
    assert body["question_id"] == "backchannel-q1"
    assert body["learner_id"] == "stu-42"
    assert body["answer"] == PARTIAL
    assert body["message"] is None
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    result = body["result"]
    assert 0 < result["points"] < result["max_points"] == 10
    assert result["score"] == pytest.approx(result["points"] / result["max_points"])
    assert result["weights"] == rubric_data("backchannel-q1")["weights"]
    assert result["rubric_version"] == 1
    assert result["scorer_version"] == ENGINE_VERSION
    assert "covered" in result["summary"]
    criteria = {c["id"]: c for c in result["criteria"]}
    assert set(criteria) == {c["id"] for c in rubric_data("backchannel-q1")["criteria"]}
    met = [c for c in criteria.values() if c["met"]]
    missed = [c for c in criteria.values() if not c["met"]]
    assert met
    assert missed
    rubric_criteria = {c["id"]: c for c in rubric_data("backchannel-q1")["criteria"]}
    for criterion in met:
        assert criterion["feedback"] == rubric_criteria[criterion["id"]]["feedback"]["hit"]
        assert criterion["matched_phrasing"] in rubric_criteria[criterion["id"]]["phrasings"]
        for span in criterion["spans"]:
            assert PARTIAL[span["start"] : span["end"]] == span["text"]
        assert criterion["matched_words"] == [span["text"] for span in criterion["spans"]]
    for criterion in missed:
        assert criterion["feedback"] == rubric_criteria[criterion["id"]]["feedback"]["miss"]
        assert criterion["matched_phrasing"] is None
        assert criterion["spans"] == []


def test_get_returns_the_stored_record(client: TestClient) -> None:
    created = submit(client, PARTIAL)
    response = client.get(f"/v1/submissions/{created['id']}")
    assert response.status_code == 200
    # Everything but the feedback link, which only the creating response shows.
    assert created["feedback_url"] is not None
    assert response.json() == {**created, "feedback_url": None}


def test_unknown_submission_is_404(client: TestClient) -> None:
    missing = uuid.uuid4()
    response = client.get(f"/v1/submissions/{missing}")
    assert response.status_code == 404
    assert response.json()["detail"] == f"No submission with id {missing}."


def test_list_is_newest_first_with_cursor_pagination(client: TestClient) -> None:
    created = [submit(client, f"{PARTIAL} Attempt {i}.")["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/submissions", params=params).json()
        seen.extend(item["id"] for item in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))
    assert pages == 3


def test_list_filters_by_question_and_learner(client: TestClient) -> None:
    a = submit(client, PARTIAL, learner_id="ann")["id"]
    b = submit(client, PARTIAL, learner_id="bob")["id"]
    c = submit(client, PARTIAL, learner_id="ann", question_id="backchannel-q2")["id"]

    def ids(**params: str) -> list[str]:
        response = client.get("/v1/submissions", params=params)
        assert response.status_code == 200
        return [item["id"] for item in response.json()["items"]]

    assert ids(learner_id="ann") == [c, a]
    assert ids(question_id="backchannel-q1") == [b, a]
    assert ids(question_id="backchannel-q2", learner_id="ann") == [c]
    assert ids(learner_id="nobody") == []


@pytest.mark.parametrize("cursor", ["garbage", "e30", "WyJ4IiwgInkiXQ"])
def test_invalid_cursor_is_a_422_problem(client: TestClient, cursor: str) -> None:
    response = client.get("/v1/submissions", params={"cursor": cursor})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize("limit", [0, 101, "ten"])
def test_page_size_is_bounded(client: TestClient, limit: int | str) -> None:
    response = client.get("/v1/submissions", params={"limit": str(limit)})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "limit"
