"""Feedback release (Moodle's review options): before release, students and integrations
learn only that the answer arrived; instructors always see everything."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.test_callbacks import SECRET, deliver
from tests.conftest import client_as, create_key
from tests.factories import submit
from tests.support.receiver import Receiver

Q = "backchannel-q1"
ANSWER = "Kennedy and Khrushchev sent secret messages through a backchannel and avoided war."
RELEASE = f"/v1/questions/{Q}/feedback-release"
MANUAL_MESSAGE = (
    "Your answer has been received. Your score and feedback will be available when your "
    "instructor releases them; check this link again later."
)


@pytest.fixture
def callback_receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def withheld_feedback(created: dict[str, Any], message: str, available_at: str | None) -> Any:
    return {
        "question_prompt": created["_prompt"],
        "answer": ANSWER,
        "status": "scored",
        "submitted_at": created["created_at"],
        "points": None,
        "max_points": None,
        "adjusted_by_instructor": False,
        "result": None,
        "message": message,
        "released": False,
        "feedback_available_at": available_at,
    }


def test_default_is_immediately_and_only_staff_see_the_setting(
    instructor: TestClient, lms: TestClient
) -> None:
    assert instructor.get(f"/v1/questions/{Q}").json()["feedback_release"] == {
        "mode": "immediately",
        "close_at": None,
        "released_at": None,
        "released": True,
    }
    assert "feedback_release" not in lms.get(f"/v1/questions/{Q}").json()
    created = submit(lms, ANSWER)
    assert created["feedback_released"] is True
    assert created["points"] is not None


def test_manual_release_holds_back_points_and_feedback_until_released(
    instructor: TestClient, lms: TestClient, anon: TestClient
) -> None:
    response = instructor.put(RELEASE, json={"mode": "manual"})
    assert response.status_code == 200
    assert response.json() == {
        "mode": "manual",
        "close_at": None,
        "released_at": None,
        "released": False,
    }
    created = submit(lms, ANSWER)
    assert (created["points"], created["result"], created["needs_review"]) == (None, None, False)
    assert created["feedback_released"] is False
    assert created["message"] == MANUAL_MESSAGE
    created["_prompt"] = instructor.get(f"/v1/questions/{Q}").json()["prompt"]

    feedback = anon.get(created["feedback_url"])
    assert feedback.status_code == 200
    assert feedback.json() == withheld_feedback(created, MANUAL_MESSAGE, None)
    # Integrations reading it back see no more; instructors see everything.
    assert lms.get(f"/v1/submissions/{created['id']}").json()["points"] is None
    assert lms.get("/v1/submissions").json()["items"][0]["result"] is None
    staff = instructor.get(f"/v1/submissions/{created['id']}").json()
    assert staff["feedback_released"] is True
    assert staff["points"] > 0
    assert staff["result"]["criteria"] != []

    released = instructor.post(f"{RELEASE}/release")
    assert released.status_code == 200
    assert released.json()["released"] is True
    assert released.json()["released_at"] is not None
    shown = anon.get(created["feedback_url"]).json()
    assert shown["released"] is True
    assert shown["points"] == staff["points"]
    ideas = len(shown["result"]["covered"]) + len(shown["result"]["missed"])
    assert ideas == len(staff["result"]["criteria"])
    assert lms.get(f"/v1/submissions/{created['id']}").json()["points"] == staff["points"]

    # Choosing a mode again withdraws the release.
    instructor.put(RELEASE, json={"mode": "manual"})
    assert anon.get(created["feedback_url"]).json()["points"] is None


def test_after_close_releases_at_the_close_time(
    instructor: TestClient, lms: TestClient, anon: TestClient
) -> None:
    response = instructor.put(
        RELEASE, json={"mode": "after_close", "close_at": "2999-01-01T10:00:00+02:00"}
    )
    assert response.status_code == 200
    assert response.json()["close_at"] == "2999-01-01T08:00:00Z"
    assert response.json()["released"] is False
    created = submit(lms, ANSWER)
    created["_prompt"] = instructor.get(f"/v1/questions/{Q}").json()["prompt"]
    message = (
        "Your answer has been received. Your score and feedback will be available from "
        "2999-01-01T08:00:00+00:00."
    )
    assert created["message"] == message
    feedback = anon.get(created["feedback_url"]).json()
    assert feedback == withheld_feedback(created, message, "2999-01-01T08:00:00Z")

    past = {"mode": "after_close", "close_at": "2000-01-01T00:00:00Z"}
    assert instructor.put(RELEASE, json=past).json()["released"] is True
    feedback = anon.get(created["feedback_url"]).json()
    assert feedback["released"] is True
    assert feedback["points"] == instructor.get(f"/v1/submissions/{created['id']}").json()["points"]


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "after_close", "close_at": "2999-01-01T10:00:00"},  # no timezone
        {"mode": "after_close"},
        {"mode": "manual", "close_at": "2999-01-01T10:00:00Z"},
        {"mode": "later"},
        {"mode": "manual", "extra": 1},
    ],
)
def test_invalid_release_settings_are_422(instructor: TestClient, body: dict[str, Any]) -> None:
    response = instructor.put(RELEASE, json=body)
    assert response.status_code == 422
    assert instructor.get(f"/v1/questions/{Q}").json()["feedback_release"]["mode"] == "immediately"


def test_only_staff_of_the_course_change_the_release(
    client: TestClient, app: FastAPI, lms: TestClient
) -> None:
    assert lms.put(RELEASE, json={"mode": "manual"}).status_code == 403
    assert lms.post(f"{RELEASE}/release").status_code == 403
    assert client.post("/v1/courses", json={"id": "other", "title": "Other"}).status_code == 201
    outsider = client_as(app, create_key(client, "instructor", "Mr Other", courses=["other"]))
    assert outsider.put(RELEASE, json={"mode": "manual"}).status_code == 404
    assert outsider.post(f"{RELEASE}/release").status_code == 404
    assert client.put(RELEASE, json={"mode": "manual"}).status_code == 200  # admin


def test_callbacks_hold_back_the_score_until_release(
    instructor: TestClient, lms: TestClient, client: TestClient, callback_receiver: Receiver
) -> None:
    lms.put("/v1/callback", json={"url": callback_receiver.url, "secret": SECRET})
    instructor.put(RELEASE, json={"mode": "manual"})
    created = submit(lms, ANSWER)
    assert deliver(client) == 1
    [request] = callback_receiver.requests
    sent = json.loads(request["body"])["submission"]
    assert sent["id"] == created["id"]
    assert (sent["points"], sent["result"], sent["feedback_released"]) == (None, None, False)
    assert sent["message"] == MANUAL_MESSAGE
