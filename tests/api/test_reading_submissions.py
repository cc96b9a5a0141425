"""What each reader sees: integrations their own, instructors everything, students one."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import submit

Q = "backchannel-q1"


def test_integration_sees_only_what_it_posted(
    lms: TestClient, other_lms: TestClient, instructor: TestClient
) -> None:
    mine = submit(lms, "They negotiated secretly.", learner_id="a")
    theirs = submit(other_lms, "They negotiated secretly.", learner_id="b")
    assert [s["id"] for s in lms.get("/v1/submissions").json()["items"]] == [mine["id"]]
    assert lms.get(f"/v1/submissions/{theirs['id']}").status_code == 404
    # Asking for another integration's submissions by filter changes nothing.
    scoped = lms.get("/v1/submissions", params={"learner_id": "b"}).json()["items"]
    assert scoped == []
    assert len(instructor.get("/v1/submissions").json()["items"]) == 2


def test_feedback_url_shows_one_submission_without_a_key(lms: TestClient, anon: TestClient) -> None:
    created = submit(lms, "Kennedy and Khrushchev sent secret messages and avoided war.")
    url = created["feedback_url"]
    assert url.startswith("http://testserver/v1/feedback/")
    response = anon.get(url)
    assert response.status_code == 200
    feedback = response.json()
    assert feedback["answer"] == created["answer"]
    assert feedback["points"] == created["points"]
    assert feedback["question_prompt"].startswith("How did backchannel")
    assert feedback["result"] == created["result"]  # the integration's student-safe view
    assert feedback["result"]["view"] == "student"
    # No learner id, no rubric internals, no reference answers.
    text = response.text
    assert "learner_id" not in text
    assert "phrasings" not in text
    assert "reference" not in text
    assert "weight" not in text
    assert "description" not in text
    assert "matched_phrasing" not in text


@pytest.mark.parametrize("token", ["x" * 43, "short", "bad token with spaces........"])
def test_unknown_or_malformed_feedback_token(anon: TestClient, token: str) -> None:
    assert anon.get(f"/v1/feedback/{token}").status_code in (404, 422)


def test_feedback_tokens_are_unguessable_and_distinct(lms: TestClient) -> None:
    tokens = {
        submit(lms, "secretly", learner_id=f"s{i}")["feedback_url"].rsplit("/", 1)[1]
        for i in range(5)
    }
    assert len(tokens) == 5
    assert all(len(t) >= 43 for t in tokens)


def test_filters_sort_and_review_queue(lms: TestClient, instructor: TestClient) -> None:
    low = submit(lms, "No idea.", learner_id="low")
    high = submit(lms, "Kennedy and Khrushchev negotiated secretly to avoid war.", learner_id="hi")
    assert high["points"] > low["points"]

    def ids(**params: str | float) -> list[str]:
        response = instructor.get("/v1/submissions", params=params)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["items"]]

    assert ids(sort="points") == [low["id"], high["id"]]
    assert ids(sort="-points") == [high["id"], low["id"]]
    assert ids(min_points=high["points"]) == [high["id"]]
    assert ids(max_points=low["points"]) == [low["id"]]
    assert ids(status="pending") == []
    assert ids(created_after=high["created_at"]) == [high["id"]]
    assert ids(created_before=high["created_at"]) == [low["id"]]
    override = {"points": 0, "reason": "flag for review test"}
    assert (
        instructor.post(f"/v1/submissions/{high['id']}/overrides", json=override).status_code == 201
    )
    # Filters use the effective (overridden) points.
    assert set(ids(max_points=low["points"])) == {low["id"], high["id"]}


def test_sort_by_points_paginates_without_gaps(lms: TestClient, instructor: TestClient) -> None:
    answers = ["No.", "secretly", "They avoided war secretly.", "Kennedy avoided war secretly."]
    created = [submit(lms, a, learner_id=f"s{i}")["id"] for i, a in enumerate(answers * 2)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"sort": "-points", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = instructor.get("/v1/submissions", params=params).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))


def test_cursor_from_another_sort_is_refused(lms: TestClient, instructor: TestClient) -> None:
    for i in range(3):
        submit(lms, "secretly", learner_id=f"s{i}")
    cursor = instructor.get("/v1/submissions", params={"limit": 1}).json()["next_cursor"]
    response = instructor.get("/v1/submissions", params={"cursor": cursor, "sort": "points"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"


def test_unknown_filter_is_422(instructor: TestClient) -> None:
    response = instructor.get("/v1/submissions", params={"needs_reveiw": "true"})
    assert response.status_code == 422
