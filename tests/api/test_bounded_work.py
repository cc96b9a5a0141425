"""Bounded work for every input, through HTTP: documented rubric limits (422 naming the
field), adversarial phrasings, answers bounded after Unicode normalisation, calibration data
that must validate, scores kept on the scale by the database, per-item batch errors capped."""

from __future__ import annotations

import itertools
import json
import math
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from service.api import problems
from service.domain.jobs.service import JobPolicy, run_next_job
from service.domain.submissions import batch
from service.scoring import limits
from service.scoring.features import BASE_FEATURES, NEIGHBOUR_FEATURES
from tests.factories import rubric_data, submit
from tests.scoring.adversarial import ADVERSARIAL_ANSWER, adversarial_question

Q = "backchannel-q1"


def new_question(question_id: str = "limits-q") -> dict[str, Any]:
    return {**rubric_data(Q), "id": question_id}


def test_adversarial_phrasing_over_http_answers_in_milliseconds(
    instructor: TestClient, lms: TestClient
) -> None:
    started = time.perf_counter()
    created = instructor.post("/v1/questions", json=adversarial_question())
    scored = lms.post(
        "/v1/submissions",
        json={"question_id": "adversarial", "learner_id": "s1", "answer": ADVERSARIAL_ANSWER},
    )
    elapsed = time.perf_counter() - started
    assert (created.status_code, scored.status_code) == (201, 201)
    assert elapsed < 5.0  # the backtracking search took about 40 s for each of the two
    result = scored.json()["result"]  # the integration's (student-safe) view
    assert (len(result["covered"]), result["missed"]) == (1, [])


def _criterion(**changes: Any) -> dict[str, Any]:
    return {**rubric_data(Q)["criteria"][0], **changes}


def _with(field: str, value: Any) -> dict[str, Any]:
    return {**new_question(), field: value}


def _first_criterion(**changes: Any) -> dict[str, Any]:
    document = new_question()
    document["criteria"] = [_criterion(**changes), *document["criteria"][1:]]
    return document


REFERENCE = rubric_data(Q)["reference_answers"][0]
OVER_THE_LIMITS = [
    (_with("title", "t" * (limits.MAX_TITLE_CHARS + 1)), "title"),
    (_with("prompt", "p" * (limits.MAX_PROMPT_CHARS + 1)), "prompt"),
    (_with("criteria", [_criterion(id=f"c{i}") for i in range(51)]), "criteria"),
    (_first_criterion(phrasings=["discreetly"] * 51), "criteria.0.phrasings"),
    (_first_criterion(phrasings=["very " * 20 + "discreetly"]), "criteria.0.phrasings.0"),
    (_first_criterion(phrasings=["discreetly" + "y" * 191]), "criteria.0.phrasings.0"),
    (_first_criterion(description="d" * 2001), "criteria.0.description"),
    (_first_criterion(feedback={"hit": "h" * 2001, "miss": "m"}), "criteria.0.feedback.hit"),
    (_with("reference_answers", [REFERENCE] * 21), "reference_answers"),
    (_with("reference_answers", [REFERENCE + " x" * 2500]), "reference_answers.0"),
    (_with("background", "b" * (limits.MAX_BACKGROUND_CHARS + 1)), "background"),
    (_with("graded_answers", [{"answer": "a", "points": 1}] * 5001), "graded_answers"),
    (_with("graded_answers", [{"answer": "a" * 10_001, "points": 1}]), "graded_answers.0.answer"),
    (_with("graded_answers", [{"answer": "\ufdfa" * 556, "points": 1}]), "graded_answers.0.answer"),
    # Steps so fine that max_points / score_step overflows (was a 500).
    (_with("score_step", 5e-324), "score_step"),
]


@pytest.mark.parametrize(("document", "field"), OVER_THE_LIMITS)
def test_a_rubric_over_a_limit_is_422_naming_the_field(
    instructor: TestClient, document: dict[str, Any], field: str
) -> None:
    response = instructor.post("/v1/questions", json=document)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["field"]) == ("rubric_invalid", field)
    assert instructor.get("/v1/questions/limits-q").status_code == 404


def test_a_rubric_at_the_limits_is_accepted(instructor: TestClient) -> None:
    document = new_question()
    document["title"] = "t" * limits.MAX_TITLE_CHARS
    document["background"] = ("lesson text " * 5000)[: limits.MAX_BACKGROUND_CHARS]
    document["reference_answers"] = [REFERENCE] * limits.MAX_REFERENCE_ANSWERS
    phrasings = ["very " * 19 + "discreetly", "discreetly" + "y" * 190] + ["discreetly"] * 48
    document["criteria"] = [_criterion(phrasings=phrasings), *document["criteria"][1:]]
    response = instructor.post("/v1/questions", json=document)
    assert response.status_code == 201, response.text


def test_the_limits_are_in_the_schema_descriptions() -> None:
    from service.domain.rubrics.schemas import RubricDocument

    schema = json.dumps(RubricDocument.model_json_schema())
    for phrase in (
        "each at most 20 words and 200 characters",
        "1 to 20, each at most 5000 characters",
        "at most 50000 characters in all",
        "results list the 12 most informative",
    ):
        assert phrase in schema


NFKC_LONG = "\ufdfa" * 556  # 556 characters, 10,008 after NFKC


def test_an_answer_longer_than_the_limit_after_nfkc_is_422(lms: TestClient) -> None:
    body = {"question_id": Q, "learner_id": "s1", "answer": NFKC_LONG}
    response = lms.post("/v1/submissions", json=body)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "answer"
    assert error["message"] == (
        "Value error, is 10008 characters after Unicode (NFKC) normalisation, which expands "
        "some characters into several; at most 10000 are allowed"
    )
    item = lms.post("/v1/submissions/batch", json={"items": [body]}).json()["items"][0]
    assert item["status"] == 422
    assert item["error"]["errors"][0]["field"] == "answer"
    # Just within the limit after normalisation: stored and scored.
    within = lms.post("/v1/submissions", json={**body, "answer": "\ufdfa" * 555})
    assert within.status_code == 201


def test_per_item_batch_errors_are_capped_like_a_requests(lms: TestClient) -> None:
    assert batch.MAX_LISTED_ERRORS == problems.MAX_LISTED_ERRORS == 20
    item = {
        "question_id": Q,
        "learner_id": "s1",
        "answer": "A",
        **{f"x{i}": i for i in range(30)},
    }
    alone = lms.post("/v1/submissions", json=item).json()["errors"]
    in_batch = lms.post("/v1/submissions/batch", json={"items": [item]}).json()["items"][0]
    errors = in_batch["error"]["errors"]
    assert len(alone) == len(errors) == 21
    assert alone[-1] == {"field": "request", "message": "10 more errors not listed"}
    assert errors[-1] == {"field": "item", "message": "10 more errors not listed"}
    assert errors[:20] == alone[:20]


def _calibration(**base: Any) -> dict[str, Any]:
    n = len(BASE_FEATURES)
    model = {
        "kind": "linear-isotonic",
        "features": list(BASE_FEATURES),
        "mean": [0.5] * n,
        "scale": [0.25] * n,
        "coef": [0.1] * n,
        "intercept": 0.5,
        "iso_x": [-1.0, 1.0],
        "iso_y": [0.0, 1.0],
    }
    return {"format": 1, "n_examples": 20, "base": model | base, "neighbour": None}


@pytest.mark.parametrize(
    ("calibration", "field"),
    [
        (_calibration(iso_y=[0.6, 0.4]), "calibration.base.iso_y"),
        (_calibration(iso_y=[0.0, 1.5]), "calibration.base.iso_y"),
        (_calibration(iso_x=[1.0, -1.0]), "calibration.base.iso_x"),
        (_calibration(coef=[0.1]), "calibration.base.coef"),
        (_calibration(features=["keyword_coverage"]), "calibration.base.features"),
        (_calibration(scale=[0.0] * len(BASE_FEATURES)), "calibration.base.scale"),
        (_calibration(intercept=1e308), "calibration.base.intercept"),
        ({**_calibration(), "format": 7}, "calibration.format"),
    ],
)
def test_invalid_calibration_is_422_naming_the_field(
    instructor: TestClient, calibration: dict[str, Any], field: str
) -> None:
    document = {**new_question(), "calibration": calibration}
    response = instructor.post("/v1/questions", json=document)
    assert response.status_code == 422, response.text
    assert (response.json()["code"], response.json()["field"]) == ("rubric_invalid", field)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_calibration_numbers_are_422(instructor: TestClient, literal: str) -> None:
    body = json.dumps({**new_question(), "calibration": _calibration(intercept=0.5)})
    body = body.replace('"intercept": 0.5', f'"intercept": {literal}')
    response = instructor.post(
        "/v1/questions", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "calibration.base.intercept"


_finite = st.floats(-1e6, 1e6, allow_nan=False)


@st.composite
def linear_isotonic(draw: st.DrawFn, features: tuple[str, ...]) -> dict[str, Any]:
    n = len(features)
    thresholds = draw(st.integers(1, 4))
    return {
        "kind": "linear-isotonic",
        "features": list(features),
        "mean": draw(st.lists(_finite, min_size=n, max_size=n)),
        "scale": draw(st.lists(st.floats(1e-9, 1e6), min_size=n, max_size=n)),
        "coef": draw(st.lists(_finite, min_size=n, max_size=n)),
        "intercept": draw(_finite),
        "iso_x": sorted(draw(st.lists(_finite, min_size=thresholds, max_size=thresholds))),
        "iso_y": sorted(draw(st.lists(st.floats(0, 1), min_size=thresholds, max_size=thresholds))),
    }


calibrations = st.builds(
    lambda base, neighbour: {"format": 1, "n_examples": 20, "base": base, "neighbour": neighbour},
    linear_isotonic(BASE_FEATURES),
    st.none() | linear_isotonic(NEIGHBOUR_FEATURES),
)
_question_ids = itertools.count()
GRADED = [
    {"answer": "They talked in secret and avoided war.", "points": 9},
    {"answer": "The leaders negotiated privately.", "points": 6},
    {"answer": "I do not know.", "points": 0},
    {"answer": "Secret letters let both sides back down.", "points": 8},
    {"answer": "Something about Cuba.", "points": 1},
    {"answer": "They used a hotline later.", "points": 3},
]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(calibration=calibrations, answer=st.sampled_from(["They met secretly.", "x", "no no"]))
def test_no_valid_calibration_makes_a_submission_fail(
    instructor: TestClient, lms: TestClient, calibration: dict[str, Any], answer: str
) -> None:
    question_id = f"calibrated-{next(_question_ids)}"
    document = {
        **new_question(question_id),
        "calibration": calibration,
        "graded_answers": GRADED,
    }
    assert instructor.post("/v1/questions", json=document).status_code == 201
    response = lms.post(
        "/v1/submissions", json={"question_id": question_id, "learner_id": "s", "answer": answer}
    )
    assert response.status_code in (201, 202), response.text
    body = response.json()
    if response.status_code == 201:
        assert 0 <= body["points"] <= body["max_points"]
        staff = instructor.get(f"/v1/submissions/{body['id']}").json()  # the full view
        assert staff["result"]["model"] == "calibrated"


def _execute(engine: Engine, statement: str) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE grading_result SET points = max_points + 1",
        "UPDATE grading_result SET points = -0.5",
        "UPDATE grading_result SET score = 1.5",
        "UPDATE grading_result SET keyword_coverage = -1",
        "UPDATE grading_result SET similarity = 2",
        "UPDATE grading_result SET points = 'NaN'",
        "UPDATE submission SET machine_points = max_points + 1",
        "UPDATE submission SET machine_points = -1",
        "UPDATE submission SET points = max_points + 0.5",
        "UPDATE submission SET points = -1, is_overridden = true",
    ],
)
def test_the_database_refuses_scores_off_the_scale(
    lms: TestClient, engine: Engine, statement: str
) -> None:
    submit(lms, "They negotiated secretly.")
    if "'NaN'" in statement and engine.dialect.name == "sqlite":
        statement = statement.replace("'NaN'", "(9e999 - 9e999)")  # SQLite stores NaN as NULL
    with pytest.raises(IntegrityError):
        _execute(engine, statement)


def test_an_override_outlives_a_smaller_scale_and_rescoring_succeeds(
    lms: TestClient, instructor: TestClient, client: TestClient
) -> None:
    created = submit(lms, "They negotiated secretly.")
    override = {"points": 9, "reason": "Good enough."}
    assert instructor.post(f"/v1/submissions/{created['id']}/overrides", json=override).is_success
    rubric = rubric_data(Q)
    rubric.pop("id")
    rubric["max_points"] = 5
    assert instructor.put(f"/v1/questions/{Q}/rubric", json=rubric).status_code == 200
    job = instructor.post(f"/v1/questions/{Q}/rescore").json()
    state = client.app.state  # type: ignore[attr-defined]
    run_next_job(state.sessionmaker, state.graders, JobPolicy())
    done = instructor.get(f"/v1/jobs/{job['id']}").json()
    assert (done["status"], done["failed"]) == ("succeeded", 0)
    after = instructor.get(f"/v1/submissions/{created['id']}").json()
    assert (after["points"], after["max_points"]) == (9, 5)
    assert 0 <= after["result"]["points"] <= 5
    assert math.isfinite(after["result"]["points"])
