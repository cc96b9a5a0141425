"""Echo protection: pasting back the feedback a student was shown earns nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import submit

WEAK_ANSWERS: dict[str, list[str]] = {
    "backchannel-q1": [
        "I am not sure, something about Cuba.",
        "The Cuban Missile Crisis happened in 1962.",
        "Kennedy was the president.",
        "They talked a lot during the crisis.",
        "It was a tense time and people were scared.",
        "Backchannels were used.",
        "The Soviet Union put missiles in Cuba and the US found out.",
        "Decisions were made by both governments.",
        "There was a naval blockade around the island.",
        "I think communication mattered somehow.",
    ],
    "backchannel-q2": [
        "I am not sure, something about Cuba.",
        "Backchannels are a kind of communication.",
        "It was effective I think.",
        "The crisis was between America and the USSR.",
        "Diplomats talk to each other.",
        "There were missiles in Cuba.",
        "It depends on the situation.",
        "The crisis lasted thirteen days in October.",
        "Some people say it worked and some say it did not.",
    ],
    "backchannel-q3": [
        "I am not sure, something about Cuba.",
        "Relations changed after the crisis.",
        "The Cold War continued for many years.",
        "The U.S. and the Soviet Union were rivals.",
        "Things were different afterwards.",
        "Khrushchev was removed from power in 1964.",
        "The space race went on.",
        "Both countries kept building weapons.",
    ],
    "earth-seasons": [
        "I am not sure, something about the Sun.",
        "Because it gets hot and cold.",
        "The Earth is closer to the Sun in summer.",
        "Seasons are summer, autumn, winter and spring.",
        "It has to do with the weather.",
        "The Earth goes around the Sun.",
        "Because of the Moon.",
        "Winter is cold because there is snow.",
    ],
}

# A question with no criteria: they are derived from the reference answers.
DERIVED_QUESTION: dict[str, Any] = {
    "id": "earth-seasons",
    "title": "Why the Earth has seasons",
    "prompt": "Why does the Earth have seasons?",
    "max_points": 10,
    "score_step": 0.5,
    "reference_answers": [
        "The Earth's axis is tilted, so as it orbits the Sun each hemisphere leans toward "
        "the Sun for part of the year and gets more direct sunlight and longer days, which "
        "makes summer; when it leans away the sunlight is spread out and days are shorter.",
        "Seasons happen because the tilt of the axis changes how directly the rays of the "
        "Sun strike each hemisphere and how long its days are during the yearly orbit.",
    ],
}


def student_view_text(view: dict[str, Any]) -> str:
    """Every text a student was shown about an answer (the student-safe view), concatenated:
    the summary, the feedback on each idea covered (with the student's own words), the
    hint for each idea missed, and the advisories."""
    result = view["result"]
    assert result["view"] == "student"
    parts = [result["summary"]]
    for idea in result["covered"]:
        parts += [idea["feedback"], *(span["text"] for span in idea["your_words"])]
    parts += [idea["hint"] for idea in result["missed"]]
    parts += [advisory["message"] for advisory in result["advisories"]]
    return " ".join(parts)


def advisory_codes(body: dict[str, Any]) -> list[str]:
    return [advisory["code"] for advisory in body["result"]["advisories"]]


@pytest.mark.parametrize("question_id", list(WEAK_ANSWERS))
def test_pasting_back_the_feedback_earns_nothing_and_is_flagged(
    question_id: str, instructor: TestClient, lms: TestClient, anon: TestClient
) -> None:
    if question_id == DERIVED_QUESTION["id"]:
        assert instructor.post("/v1/questions", json=DERIVED_QUESTION).status_code == 201
    for number, answer in enumerate(WEAK_ANSWERS[question_id]):
        original = submit(lms, answer, question_id=question_id, learner_id=f"weak-{number}")
        max_points = original["max_points"]
        # What the integration got and what the student's link shows are the same view.
        shown = anon.get(original["feedback_url"]).json()
        assert shown["result"] == original["result"]
        echo = student_view_text(shown)
        for variant in (echo, f"{answer} {echo}"):
            pasted = submit(lms, variant, question_id=question_id, learner_id=f"echo-{number}")
            assert pasted["points"] <= original["points"] + 0.2 * max_points, (answer, variant)
            assert "echoes_feedback" in advisory_codes(pasted), variant
            assert pasted["needs_review"] is True
            assert pasted["result"]["needs_review"] is True


def test_honest_answer_that_reuses_the_question_is_not_an_echo(lms: TestClient) -> None:
    answer = (
        "Backchannel communications let Kennedy and Khrushchev negotiate secretly during the "
        "Cuban Missile Crisis, so they could avoid war."
    )
    body = submit(lms, answer)
    assert "echoes_feedback" not in advisory_codes(body)
    assert body["points"] >= 5


def test_copied_feedback_words_are_blanked_but_own_words_still_count(
    lms: TestClient, instructor: TestClient
) -> None:
    own = "Kennedy and Khrushchev negotiated secretly and avoided war."
    hint = (
        "Consider who was watching the official exchanges. How did keeping these talks out "
        "of sight change what each leader felt able to say or give up?"
    )
    alone = submit(lms, own, learner_id="own")
    padded = submit(lms, f"{own} {hint}", learner_id="padded")
    assert padded["points"] == alone["points"]
    assert advisory_codes(padded) == ["echoes_feedback"]
    full = instructor.get(f"/v1/submissions/{padded['id']}").json()["result"]
    met = {c["id"]: c for c in full["criteria"] if c["met"]}
    assert set(met) == {"de-escalation", "discreet-exchange", "leaders-named"}
    # Spans still point into the answer as it was submitted.
    for criterion in met.values():
        for span in criterion["spans"]:
            assert padded["answer"][span["start"] : span["end"]] == span["text"]
