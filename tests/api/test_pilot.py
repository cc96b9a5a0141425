"""The pilot through the HTTP API on the real database: proposals, grades as overrides,
agreement, calibration once agreement is established, scope and refusals."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.scoring.pilot import MIN_TO_CALIBRATE
from tests.api.test_scoring_retries import EngineFault
from tests.factories import reference_answer, submit

Q = "backchannel-q1"
PILOT = f"/v1/questions/{Q}/pilot"

# Answers of the seeded question from empty to complete: their machine scores spread over
# the scale, so a teacher who grades like the machine agrees with it clearly.
ANSWERS = [
    "I do not know.",
    "The crisis happened in Cuba in 1962.",
    "They talked a lot.",
    "Kennedy and Khrushchev sent letters.",
    "Kennedy and Khrushchev negotiated secretly.",
    "The leaders negotiated secretly, which helped them avoid war.",
    "Secret messages let Kennedy and Khrushchev understand each other and avoid war.",
    reference_answer(Q, 0),
    reference_answer(Q, 1),
    "Backchannel talks through Robert Kennedy and Dobrynin let both sides trade the missiles "
    "in Turkey quietly, learn what the other really wanted and step back from nuclear war.",
]


def post_answers(lms: TestClient, answers: list[str] = ANSWERS) -> dict[str, dict[str, Any]]:
    """Submission id -> the stored submission (as the integration got it)."""
    created = [submit(lms, answer, learner_id=f"learner-{i}") for i, answer in enumerate(answers)]
    return {body["id"]: body for body in created}


def machine_points(instructor: TestClient, submission_id: str) -> float:
    body = instructor.get(f"/v1/submissions/{submission_id}").json()
    points: float = body["result"]["points"]
    return points


def grade(
    instructor: TestClient, submission_id: str, points: float, **extra: Any
) -> dict[str, Any]:
    response = instructor.post(
        f"{PILOT}/grades", json={"submission_id": submission_id, "points": points, **extra}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_question_without_grades_proposes_an_answer_and_knows_no_agreement(
    instructor: TestClient, lms: TestClient
) -> None:
    posted = post_answers(lms, ANSWERS[:4])
    body = instructor.get(PILOT).json()
    assert body["question_id"] == Q
    assert body["answers"] == 4
    assert body["graded"] == 0
    assert body["next"]["submission_id"] in posted
    proposed = posted[body["next"]["submission_id"]]
    assert body["next"]["answer"] == proposed["answer"]
    assert body["next"]["machine_points"] == proposed["points"]
    assert body["next"]["max_points"] == proposed["max_points"]
    assert body["agreement"] == {
        "n": 0,
        "metric": "pearson",
        "value": None,
        "low": None,
        "high": None,
        "mean_abs_error": None,
        "established": False,
    }
    assert body["calibrated"] is None
    assert body["min_to_calibrate"] == MIN_TO_CALIBRATE


def test_proposals_never_repeat_a_graded_answer_until_none_is_left(
    instructor: TestClient, lms: TestClient
) -> None:
    posted = post_answers(lms)
    proposed: list[str] = []
    state = instructor.get(PILOT).json()
    while state["next"] is not None:
        submission_id = state["next"]["submission_id"]
        assert submission_id not in proposed
        proposed.append(submission_id)
        # A teacher who disagrees with the machine: no calibration interferes.
        state = grade(instructor, submission_id, 10 - state["next"]["machine_points"])
        assert state["graded"] == len(proposed)
        assert state["next"] is None or state["next"]["submission_id"] not in proposed
    assert sorted(proposed) == sorted(posted)
    # Each grade is an ordinary override, with the pilot's standard reason.
    overrides = instructor.get(f"/v1/submissions/{proposed[0]}/overrides").json()["items"]
    assert [o["reason"] for o in overrides] == ["Graded in the pilot."]
    assert instructor.get(f"/v1/submissions/{proposed[0]}").json()["overridden"] is True


def test_the_second_proposal_is_far_from_the_first_on_the_machines_range(
    instructor: TestClient, lms: TestClient
) -> None:
    posted = post_answers(lms)
    points = [body["points"] for body in posted.values()]
    spread = max(points) - min(points)
    assert spread > 0
    first = instructor.get(PILOT).json()["next"]
    second = grade(instructor, first["submission_id"], first["machine_points"])["next"]
    # Grades cover the range, not the crowd: the next one is not a neighbour of the first.
    assert abs(second["machine_points"] - first["machine_points"]) >= spread / 4


def test_agreement_counts_every_teacher_grade_and_its_error(
    instructor: TestClient, lms: TestClient
) -> None:
    posted = list(post_answers(lms, ANSWERS[:6]))
    machine = {sid: machine_points(instructor, sid) for sid in posted}
    # A teacher a point more generous than the machine on every other answer.
    teacher = {sid: min(10.0, machine[sid] + i % 2) for i, sid in enumerate(posted)}
    # Grades from the review queue count as much as the pilot's.
    response = instructor.post(
        f"/v1/submissions/{posted[0]}/overrides",
        json={"points": teacher[posted[0]], "reason": "Read in the queue."},
    )
    assert response.status_code == 201
    state = grade(instructor, posted[1], teacher[posted[1]], reason="Second look.")
    assert state["graded"] == 2
    assert state["agreement"]["n"] == 2
    assert state["agreement"]["value"] is None  # too few to say
    for sid in posted[2:]:
        state = grade(instructor, sid, teacher[sid])
    agreement = state["agreement"]
    assert agreement["n"] == len(posted) == state["graded"]
    assert agreement["metric"] == "pearson"
    expected_error = sum(abs(teacher[s] - machine[s]) for s in posted) / len(posted) / 10
    assert agreement["mean_abs_error"] == pytest.approx(expected_error, abs=1e-4)
    assert agreement["low"] <= agreement["value"] <= agreement["high"]


def test_agreement_once_established_calibrates_the_question_once(
    instructor: TestClient, lms: TestClient
) -> None:
    post_answers(lms)
    version = instructor.get(f"/v1/questions/{Q}").json()["rubric_version"]
    state = instructor.get(PILOT).json()
    calibrated_at: int | None = None
    while state["next"] is not None and calibrated_at is None:
        # The teacher grades as the machine does: agreement becomes established.
        state = grade(instructor, state["next"]["submission_id"], state["next"]["machine_points"])
        if state["calibrated_now"]:
            calibrated_at = state["graded"]
        else:
            assert state["calibrated"] is None
            assert state["agreement"]["established"] is False
    assert calibrated_at is not None, state
    assert calibrated_at >= MIN_TO_CALIBRATE
    assert state["agreement"]["established"] is True
    assert state["calibrated"] == {"version": version + 1, "n": calibrated_at}
    stored = instructor.get(f"/v1/questions/{Q}/rubric-versions").json()["items"][-1]
    assert stored["version"] == version + 1
    assert stored["rubric"]["calibration"] is not None
    assert len(stored["rubric"]["graded_answers"]) == calibrated_at
    # Once: the next grades keep the calibrated version.
    if state["next"] is not None:
        after = grade(instructor, state["next"]["submission_id"], state["next"]["machine_points"])
        assert after["calibrated_now"] is False
        assert after["calibrated"] == state["calibrated"]
    assert instructor.get(f"/v1/questions/{Q}").json()["rubric_version"] == version + 1


def test_disagreement_is_never_established_and_does_not_calibrate(
    instructor: TestClient, lms: TestClient
) -> None:
    post_answers(lms)
    state = instructor.get(PILOT).json()
    while state["next"] is not None:
        state = grade(
            instructor, state["next"]["submission_id"], 10 - state["next"]["machine_points"]
        )
        assert state["calibrated_now"] is False
    assert state["agreement"]["n"] == len(ANSWERS)
    assert state["agreement"]["value"] < 0
    assert state["agreement"]["established"] is False
    assert state["calibrated"] is None


def test_another_courses_question_and_answers_are_not_found(
    client: TestClient, instructor: TestClient, lms: TestClient
) -> None:
    assert client.post("/v1/courses", json={"id": "c2", "title": "Two"}).status_code == 201
    question = {
        "id": "other-q",
        "title": "Elsewhere",
        "prompt": "How did the leaders talk?",
        "max_points": 4,
        "course_id": "c2",
        "reference_answers": ["They negotiated secretly through a backchannel."],
    }
    assert client.post("/v1/questions", json=question).status_code == 201
    elsewhere = submit(lms, "They negotiated secretly.", question_id="other-q")
    mine = submit(lms, "They negotiated secretly.")
    for response in (
        instructor.get("/v1/questions/other-q/pilot"),
        instructor.post(
            "/v1/questions/other-q/pilot/grades",
            json={"submission_id": elsewhere["id"], "points": 1},
        ),
        # The instructor's own question, with an answer it may not see.
        instructor.post(f"{PILOT}/grades", json={"submission_id": elsewhere["id"], "points": 1}),
        instructor.get("/v1/questions/no-such-question/pilot"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    # The admin sees both; an integration may not use the pilot at all.
    assert (
        client.get("/v1/questions/other-q/pilot").json()["next"]["submission_id"]
        == (elsewhere["id"])
    )
    assert lms.get(PILOT).status_code == 403
    grade_by_lms = lms.post(f"{PILOT}/grades", json={"submission_id": mine["id"], "points": 1})
    assert grade_by_lms.status_code == 403


def test_refusals_are_problem_details_and_record_nothing(
    instructor: TestClient, lms: TestClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = submit(lms, "They negotiated secretly.")
    other = submit(lms, "They negotiated secretly.", question_id="backchannel-q2")
    url = f"{PILOT}/grades"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"submission_id": other["id"], "points": 1}, "wrong_question"),
        ({"submission_id": mine["id"], "points": 10.5}, "unprocessable"),
        ({"submission_id": mine["id"], "points": -1}, "validation_error"),
        ({"submission_id": mine["id"], "points": "many"}, "validation_error"),
        ({"submission_id": "not-a-uuid", "points": 1}, "validation_error"),
        ({"submission_id": mine["id"]}, "validation_error"),
        ({"submission_id": mine["id"], "points": 1, "reason": " "}, "validation_error"),
        ({"submission_id": mine["id"], "points": 1, "reason": "x" * 2001}, "validation_error"),
        ({"submission_id": mine["id"], "points": 1, "extra": True}, "validation_error"),
    ]
    for body, code in cases:
        response = instructor.post(url, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code, (body, response.text)
    # JSON as Python reads it has Infinity and NaN: neither is a grade.
    for number in ("Infinity", "NaN"):
        response = instructor.post(
            url,
            content=f'{{"submission_id": "{mine["id"]}", "points": {number}}}',
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "validation_error"
    # An answer whose scoring failed has no machine score to agree with.
    EngineFault(app, monkeypatch, Q).fail(None)
    pending = submit(lms, "They negotiated secretly.", expected_status=202)
    response = instructor.post(url, json={"submission_id": pending["id"], "points": 1})
    assert response.status_code == 422
    assert response.json()["code"] == "not_scored"
    assert instructor.get(PILOT).json()["graded"] == 0
    assert instructor.get(f"/v1/submissions/{mine['id']}/overrides").json()["items"] == []
    assert instructor.get("/v1/questions/Not_A_Slug!/pilot").status_code == 422
