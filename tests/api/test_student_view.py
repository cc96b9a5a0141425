"""The student-safe view: what students and integrations see never hands out the answer key;
instructors and admins still get the full breakdown."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.scoring.text import tokenize
from tests.api.test_echo_feedback import WEAK_ANSWERS
from tests.conftest import SEED_QUESTION_IDS
from tests.factories import reference_answer, rubric_data, submit

SHINGLE = 4

PARTIAL_ANSWERS = {
    "backchannel-q1": [
        "Kennedy and Khrushchev sent secret messages and avoided war.",
        "The leaders could say what they wanted without the media watching.",
    ],
    "backchannel-q2": [
        "Backchannels were valuable because messages moved quickly and the crisis was settled.",
        "Informal talks let them explore a compromise about the missiles in Turkey.",
    ],
    "backchannel-q3": [
        "The hotline was set up and the two sides built some trust.",
        "It led to the test ban treaty and later to detente.",
    ],
}


def words(text: str) -> list[str]:
    return [token.text for token in tokenize(text)]


def shingles(text: str, size: int = SHINGLE) -> set[tuple[str, ...]]:
    tokens = words(text)
    return {tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def answer_key_texts(question_id: str) -> list[str]:
    """Everything a student must never be shown: references, background, descriptions."""
    rubric = rubric_data(question_id)
    background = rubric.get("background", "")
    return [
        *rubric["reference_answers"],
        *(line for line in background.splitlines() if line.strip()),
        *(c["description"] for c in rubric["criteria"]),
    ]


def shown_text(value: Any, skip: frozenset[str]) -> list[str]:
    """Every string in a JSON document, except under the keys in ``skip``."""
    if isinstance(value, dict):
        return [s for k, v in value.items() if k not in skip for s in shown_text(v, skip)]
    if isinstance(value, list):
        return [s for item in value for s in shown_text(item, skip)]
    return [value] if isinstance(value, str) else []


# The student's own text and the question they were asked: theirs to see.
OWN = frozenset({"answer", "text", "question_prompt", "learner_id"})


def assert_no_answer_key(document: dict[str, Any], question_id: str) -> None:
    rubric = rubric_data(question_id)
    own = shingles(rubric["prompt"])
    shown = " ".join(shown_text(document, OWN))
    leaked = set().union(*(shingles(text) for text in answer_key_texts(question_id))) - own
    assert not leaked & shingles(shown), sorted(leaked & shingles(shown))
    shown_words = words(shown)
    for criterion in rubric["criteria"]:
        assert criterion["description"] not in json.dumps(document)
        for phrasing in criterion["phrasings"]:
            sequence = words(phrasing)
            found = any(
                shown_words[i : i + len(sequence)] == sequence
                for i in range(len(shown_words) - len(sequence) + 1)
            )
            assert not found, (criterion["id"], phrasing)
    raw = json.dumps(document)
    for key in ("description", "phrasing", "weight", "components", "calibration", "reference"):
        assert f'"{key}' not in raw


@pytest.mark.parametrize("question_id", SEED_QUESTION_IDS)
def test_student_and_integration_views_hold_no_answer_key(
    question_id: str, lms: TestClient, anon: TestClient
) -> None:
    answers = [
        *WEAK_ANSWERS[question_id],
        *PARTIAL_ANSWERS[question_id],
        *rubric_data(question_id)["reference_answers"],
    ]
    for number, answer in enumerate(answers):
        created = submit(lms, answer, question_id=question_id, learner_id=f"s-{number}")
        assert created["result"]["view"] == "student"
        feedback = anon.get(created["feedback_url"])
        assert feedback.status_code == 200
        read_back = lms.get(f"/v1/submissions/{created['id']}").json()
        listed = lms.get("/v1/submissions", params={"learner_id": f"s-{number}"}).json()
        for document in (created, feedback.json(), read_back, listed):
            assert_no_answer_key(document, question_id)


def test_student_view_shows_own_words_hits_and_hints(lms: TestClient, anon: TestClient) -> None:
    answer = "Kennedy and Khrushchev sent messages in secret and avoided war."
    created = submit(lms, answer)
    rubric = {c["id"]: c for c in rubric_data("backchannel-q1")["criteria"]}
    result = created["result"]
    assert set(result) == {
        "view",
        "points",
        "max_points",
        "score",
        "needs_review",
        "summary",
        "covered",
        "missed",
        "advisories",
        "rubric_version",
        "scorer_version",
        "scored_at",
    }
    hits = {rubric[i]["feedback"]["hit"] for i in ("de-escalation", "leaders-named")}
    hits.add(rubric["discreet-exchange"]["feedback"]["hit"])
    assert {idea["feedback"] for idea in result["covered"]} == hits
    for idea in result["covered"]:
        assert idea["your_words"]
        for span in idea["your_words"]:
            assert answer[span["start"] : span["end"]] == span["text"]
    words_by_hit = {i["feedback"]: [s["text"] for s in i["your_words"]] for i in result["covered"]}
    assert words_by_hit[rubric["de-escalation"]["feedback"]["hit"]] == ["avoided", "war"]
    assert words_by_hit[rubric["discreet-exchange"]["feedback"]["hit"]] == ["secret"]
    misses = [
        c["feedback"]["miss"]
        for c in rubric.values()
        if c["id"] not in {"de-escalation", "leaders-named", "discreet-exchange"}
    ]
    assert [idea["hint"] for idea in result["missed"]] == misses
    feedback = anon.get(created["feedback_url"]).json()
    assert feedback["result"] == result
    assert feedback["answer"] == answer


def test_instructors_and_admins_still_get_the_full_breakdown(
    lms: TestClient, instructor: TestClient, client: TestClient
) -> None:
    created = submit(lms, reference_answer("backchannel-q1"))
    rubric = rubric_data("backchannel-q1")
    for reader in (instructor, client):
        full = reader.get(f"/v1/submissions/{created['id']}").json()["result"]
        assert full["view"] == "full"
        assert [c["description"] for c in full["criteria"]] == [
            c["description"] for c in rubric["criteria"]
        ]
        assert all(c["matched_phrasing"] for c in full["criteria"])
        assert set(full["components"]) == {"keyword_coverage", "tfidf_similarity"}
        assert full["weights"] == {"keywords": 0.7, "similarity": 0.3}
        listed = reader.get("/v1/submissions").json()["items"]
        assert [item["result"]["view"] for item in listed] == ["full"]


DERIVED = {
    "id": "bulb-circuit",
    "title": "Why the bulb lights",
    "prompt": "Why does bulb A light when switch X is closed?",
    "max_points": 2,
    "score_step": 1,
    "reference_answers": ["Bulb A is in a closed path with the battery terminals."],
}


def test_derived_criteria_get_only_generic_hints(
    instructor: TestClient, lms: TestClient, anon: TestClient
) -> None:
    assert instructor.post("/v1/questions", json=DERIVED).status_code == 201
    answer = "It has a path to the battery."
    created = submit(lms, answer, question_id="bulb-circuit")
    result = created["result"]
    assert [idea["feedback"] for idea in result["covered"]] == [
        "Your answer uses 2 of the 3 key ideas of a full answer."
    ]
    assert [s["text"] for s in result["covered"][0]["your_words"]] == ["path", "battery"]
    assert [idea["hint"] for idea in result["missed"]] == [
        "Your answer is still missing 1 of the 3 key ideas of a full answer."
    ]
    shown = " ".join(shown_text(anon.get(created["feedback_url"]).json(), OWN))
    assert "terminal" not in shown.casefold()
    # The engine's own feedback, which instructors see, does not name the terms either.
    full = instructor.get(f"/v1/submissions/{created['id']}").json()["result"]
    assert {c["feedback"] for c in full["criteria"]} == {
        "You used one of the key terms of a full answer.",
        "A full answer uses a key term that your answer does not have yet.",
    }
    assert "terminal" not in full["summary"]
