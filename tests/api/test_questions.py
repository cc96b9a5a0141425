from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import SEED_QUESTION_IDS
from tests.factories import rubric_data


def test_list_questions_returns_the_three_seed_questions(client: TestClient) -> None:
    response = client.get("/v1/questions")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["id"] for item in items] == SEED_QUESTION_IDS
    for item in items:
        data = rubric_data(item["id"])
        assert item == {
            "id": data["id"],
            "title": data["title"],
            "prompt": data["prompt"],
            "max_points": data["max_points"],
            "score_step": data["score_step"],
            "course_id": "default",
            "rubric_version": 1,
            "feedback_release": {
                "mode": "immediately",
                "close_at": None,
                "released_at": None,
                "released": True,
            },
        }


def test_questions_never_expose_reference_answers_or_phrasings(client: TestClient) -> None:
    body = client.get("/v1/questions/backchannel-q2").text
    data = rubric_data("backchannel-q2")
    assert data["reference_answers"][0] not in body
    assert "phrasings" not in body


def test_get_question_by_id(client: TestClient) -> None:
    response = client.get("/v1/questions/backchannel-q3")
    assert response.status_code == 200
    assert response.json()["prompt"].startswith("Assess how the outcomes of backchannel")


def test_unknown_question_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v1/questions/no-such-question")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://grader.example.org/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "No question with id 'no-such-question'.",
        "code": "not_found",
        "instance": "/v1/questions/no-such-question",
    }
