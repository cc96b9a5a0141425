"""Answers that try to game the grader, feedback with evidence, and learning from graded
answers, through the HTTP API against the real database."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.scoring.calibration import MIN_EXAMPLES
from service.scoring.pilot import MIN_TO_CALIBRATE
from tests.factories import reference_answer, rubric_data, submit

Q = "backchannel-q1"
ESSAY = (
    "The French Revolution began in 1789 when debt, bread prices and anger at privilege drove "
    "ordinary people in Paris to storm the Bastille. The National Assembly abolished feudal "
    "dues, issued the Declaration of the Rights of Man, and later the monarchy fell. Years of "
    "terror and war followed until Napoleon seized power and crowned himself emperor. "
)


def keyword_list(question_id: str) -> str:
    phrasings = [c["phrasings"][0] for c in rubric_data(question_id)["criteria"]]
    return ", ".join(phrasings)


def codes(body: dict[str, Any]) -> list[str]:
    return [a["code"] for a in body["result"]["advisories"]]


@pytest.mark.parametrize("question_id", ["backchannel-q1", "backchannel-q2", "backchannel-q3"])
def test_keyword_stuffing_is_capped_at_40_percent_and_flagged(
    lms: TestClient, question_id: str
) -> None:
    body = submit(lms, keyword_list(question_id), question_id=question_id)
    assert body["result"]["score"] <= 0.4
    assert "keyword_stuffing" in codes(body)
    assert body["needs_review"] is True


@pytest.mark.parametrize(
    ("answer", "code", "max_score"),
    [
        (rubric_data(Q)["prompt"], "copies_question", 0.2),
        (
            "Backchannel talks had an impact on how decisions were made in the Cuban crisis.",
            "copies_question",
            0.2,
        ),
        (ESSAY, "off_topic", 0.1),
        ("asdkfj qwpoeiru zxmcnv lkjhgf poiuyt mnbvcx qwerty", "gibberish", 0.2),
        ("yes", "too_short", 0.3),
        ("Kennedy", "too_short", 0.3),
    ],
)
def test_gaming_answers_score_low_and_are_flagged(
    lms: TestClient, answer: str, code: str, max_score: float
) -> None:
    body = submit(lms, answer)
    assert code in codes(body)
    assert body["result"]["score"] <= max_score


def test_pasted_sentence_is_flagged_for_review(lms: TestClient) -> None:
    sentence = "Kennedy and Khrushchev negotiated secretly to avoid war. "
    body = submit(lms, sentence * 8)
    assert "repetition" in codes(body)
    assert body["needs_review"] is True


def test_length_alone_earns_nothing(lms: TestClient) -> None:
    reference = reference_answer(Q)
    alone = submit(lms, reference)
    padded = submit(lms, ESSAY * 3 + reference + " " + ESSAY * 3)
    assert alone["result"]["score"] == 1.0
    assert padded["result"]["score"] < alone["result"]["score"]
    assert "too_long" in codes(padded)


def test_non_english_is_flagged_not_marked_wrong(lms: TestClient) -> None:
    spanish = (
        "Kennedy y Jruschov negociaron en secreto por canales no oficiales, lo que les permitió "
        "aclarar sus posiciones sin la presión del público y evitar una guerra nuclear."
    )
    body = submit(lms, spanish)
    assert codes(body) == ["other_language"]
    assert body["needs_review"] is True
    message = body["result"]["advisories"][0]["message"]
    assert "not been marked as wrong" in message
    assert "language of the question" in message
    assert "English" not in message
    # Not capped to zero as off-topic or gibberish would be: the advisory has no cap, and
    # the names and cognates it shares with the reference keep what they earned.
    assert body["result"]["score"] > 0.0


def test_honest_answers_get_no_advisories(lms: TestClient) -> None:
    for question_id in ("backchannel-q1", "backchannel-q2", "backchannel-q3"):
        for index in range(len(rubric_data(question_id)["reference_answers"])):
            body = submit(lms, reference_answer(question_id, index), question_id=question_id)
            assert codes(body) == []
    short_but_right = (
        "Secret messages let Kennedy and Khrushchev understand each other and avoid war."
    )
    assert codes(submit(lms, short_but_right)) == []


def test_advisories_reach_the_student_in_plain_words(lms: TestClient, anon: TestClient) -> None:
    body = submit(lms, keyword_list(Q))
    feedback = anon.get(body["feedback_url"]).json()
    [advisory] = [a for a in feedback["result"]["advisories"] if a["code"] == "keyword_stuffing"]
    assert "sentences" in advisory["message"]


def test_feedback_points_at_the_words_that_matched(lms: TestClient, instructor: TestClient) -> None:
    answer = "Because the leaders negotiated discreetly, they avoided war."
    body = submit(lms, answer)
    full = instructor.get(f"/v1/submissions/{body['id']}").json()["result"]
    met = {c["id"]: c for c in full["criteria"] if c["met"]}
    for criterion in met.values():
        for span in criterion["spans"]:
            assert answer[span["start"] : span["end"]] == span["text"]
    assert met["de-escalation"]["matched_phrasing"] == "avoid war"
    assert full["model"] == "default"
    assert 0 <= full["confidence"] <= 1
    # The student sees the same words, as their own, beside the teacher's feedback.
    shown = [[s["text"] for s in idea["your_words"]] for idea in body["result"]["covered"]]
    assert shown == [[s["text"] for s in c["spans"]] for c in met.values()]


def test_negated_idea_does_not_count(lms: TestClient, instructor: TestClient) -> None:
    body = submit(lms, "The secret talks did not de-escalate anything.")
    full = instructor.get(f"/v1/submissions/{body['id']}").json()["result"]
    criteria = {c["id"]: c["met"] for c in full["criteria"]}
    assert criteria["de-escalation"] is False


def test_question_without_criteria_gets_them_from_the_reference(
    instructor: TestClient, lms: TestClient
) -> None:
    question = {
        "id": "bulb-circuit",
        "title": "Why the bulb lights",
        "prompt": "Why does bulb A light when switch X is closed?",
        "max_points": 2,
        "score_step": 1,
        "reference_answers": ["Bulb A is in a closed path with the battery."],
    }
    assert instructor.post("/v1/questions", json=question).status_code == 201
    right = submit(lms, "It is in a closed path with the battery.", question_id="bulb-circuit")
    wrong = submit(lms, "The battery is dead.", question_id="bulb-circuit")
    assert right["points"] > wrong["points"]
    full = instructor.get(f"/v1/submissions/{right['id']}").json()["result"]
    assert full["criteria"]  # derived criteria, with feedback
    assert all(c["feedback"] for c in full["criteria"])


def graded_set() -> list[dict[str, Any]]:
    good = [
        f"Kennedy and Khrushchev negotiated secretly, version {i}, which helped avoid war."
        for i in range(12)
    ]
    poor = [f"The crisis happened in Cuba in 1962, point {i}." for i in range(12)]
    return [{"answer": a, "points": 9} for a in good] + [{"answer": a, "points": 1} for a in poor]


def test_calibration_from_graded_answers_makes_a_calibrated_version(
    instructor: TestClient, lms: TestClient
) -> None:
    too_few = instructor.post(
        f"/v1/questions/{Q}/calibrate",
        json={"graded_answers": graded_set()[: MIN_TO_CALIBRATE - 1]},
    ).json()
    assert too_few["calibrated"] is False
    assert too_few["graded_answers"] == MIN_TO_CALIBRATE - 1
    assert too_few["calibration_kind"] is None
    assert too_few["min_examples"] == MIN_TO_CALIBRATE
    assert too_few["min_full_examples"] == MIN_EXAMPLES
    response = instructor.post(
        f"/v1/questions/{Q}/calibrate", json={"graded_answers": graded_set()}
    )
    assert response.status_code == 200
    outcome = response.json()
    assert outcome["calibrated"] is True
    assert outcome["graded_answers"] == 24
    assert outcome["calibration_kind"] == "full"
    assert outcome["rubric_version"] == 3
    body = submit(lms, "Kennedy and Khrushchev negotiated secretly, which helped avoid war.")
    full = instructor.get(f"/v1/submissions/{body['id']}").json()["result"]
    assert full["model"] == "calibrated"
    assert body["result"]["rubric_version"] == full["rubric_version"] == 3
    versions = instructor.get(f"/v1/questions/{Q}/rubric-versions").json()["items"]
    assert versions[-1]["rubric"]["calibration"]["base"] is not None  # the full model


def test_a_few_teacher_grades_give_a_few_shot_calibration(
    instructor: TestClient, lms: TestClient
) -> None:
    # Three good and four poor answers, fewer than MIN_EXAMPLES: a few-shot map is fitted.
    few = [*graded_set()[:3], *graded_set()[12:16]]
    assert MIN_TO_CALIBRATE <= len(few) < MIN_EXAMPLES
    before = submit(lms, "The crisis happened in Cuba in 1962.")
    outcome = instructor.post(f"/v1/questions/{Q}/calibrate", json={"graded_answers": few})
    assert outcome.status_code == 200
    assert outcome.json()["calibrated"] is True
    assert outcome.json()["calibration_kind"] == "few-shot"
    stored = instructor.get(f"/v1/questions/{Q}/rubric-versions").json()["items"][-1]
    calibration = stored["rubric"]["calibration"]
    assert calibration["kind"] == "few-shot"
    assert calibration["n_examples"] == len(few)
    after = submit(lms, "The crisis happened in Cuba in 1962.")
    full = instructor.get(f"/v1/submissions/{after['id']}").json()["result"]
    assert full["model"] == "calibrated"
    # The teacher gave such answers 1 of 10: the calibrated score moves toward that.
    assert abs(after["points"] - 1) <= abs(before["points"] - 1)
    # The stored map is validated when a rubric is saved by hand, like a full calibration.
    rubric = {**stored["rubric"], "calibration": {**calibration, "slope": -1}}
    refused = instructor.put(f"/v1/questions/{Q}/rubric", json=rubric)
    assert refused.status_code == 422
    assert "calibration.slope" in refused.text


def test_overrides_become_graded_answers(instructor: TestClient, lms: TestClient) -> None:
    created = submit(lms, "They talked a lot.")
    instructor.post(
        f"/v1/submissions/{created['id']}/overrides", json={"points": 2, "reason": "vague"}
    )
    outcome = instructor.post(f"/v1/questions/{Q}/calibrate", json={}).json()
    assert outcome["graded_answers"] == 1
    stored = instructor.get(f"/v1/questions/{Q}/rubric-versions").json()["items"][-1]
    assert stored["rubric"]["graded_answers"] == [{"answer": "They talked a lot.", "points": 2.0}]


def test_graded_points_above_the_maximum_are_refused(instructor: TestClient) -> None:
    response = instructor.post(
        f"/v1/questions/{Q}/calibrate", json={"graded_answers": [{"answer": "x", "points": 11}]}
    )
    assert response.status_code == 422
