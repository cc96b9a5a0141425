"""Automatic criteria, forgiving matching, graded neighbours, calibration and confidence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from service.scoring import (
    Calibration,
    CalibrationError,
    GradedAnswer,
    Grader,
    RubricError,
    RubricSpec,
    fit_calibration,
    training_data,
)
from service.scoring.features import BASE_FEATURES, NEIGHBOUR_FEATURES

REFERENCE = "An open switch breaks the circuit, so no current flows through the bulb."


def auto_rubric(**overrides: object) -> RubricSpec:
    values: dict[str, object] = {
        "prompt": "Why does the bulb not light when the switch is open?",
        "max_points": 2.0,
        "score_step": 0.5,
        "reference_answers": (REFERENCE,),
        "criteria": (),
        "keyword_weight": 0.7,
        "similarity_weight": 0.3,
    }
    values.update(overrides)
    return RubricSpec(**values)  # type: ignore[arg-type]


GRADED = (
    ("The switch breaks the circuit so no current can flow.", 2.0),
    ("There is a gap, the circuit is broken and current stops.", 2.0),
    ("Opening it breaks the path so current cannot flow to the bulb.", 2.0),
    ("The circuit is broken.", 1.0),
    ("No current flows.", 1.0),
    ("Electricity stops.", 1.0),
    ("The battery is dead.", 0.0),
    ("The bulb is broken.", 0.0),
    ("Because it is switched.", 0.0),
    ("I do not know.", 0.0),
    ("The circuit is complete.", 0.0),
    ("It needs a new bulb.", 0.0),
)


def graded_grader(**kwargs: object) -> Grader:
    graded = [GradedAnswer(answer, points) for answer, points in GRADED * 2]
    return Grader(auto_rubric(), graded=graded, **kwargs)  # type: ignore[arg-type]


def test_criteria_are_derived_from_the_reference_without_question_words() -> None:
    grader = Grader(auto_rubric())
    phrasings = [p for c in grader.criteria for p in c.spec.phrasings]
    assert "circuit" in phrasings
    assert "not current" in phrasings  # "no current flows": the polarity is kept
    assert "switch" not in phrasings  # a word of the prompt earns nothing
    assert "bulb" not in phrasings
    assert all(c.spec.description.startswith("Mention") for c in grader.criteria)
    result = grader.grade(REFERENCE)
    assert result.points == 2.0
    assert all(c.met for c in result.criteria)


def test_auto_criteria_report_spans_and_feedback() -> None:
    answer = "No current gets through the circuit."
    result = Grader(auto_rubric()).grade(answer)
    met = [c for c in result.criteria if c.met]
    assert {c.matched_phrasing for c in met} >= {"circuit", "not current"}
    for criterion in met:
        assert all(answer[s.start : s.end] == s.text for s in criterion.spans)
        assert criterion.feedback.startswith("You used")


def test_negated_phrase_does_not_count_as_coverage() -> None:
    grader = Grader(auto_rubric(reference_answers=("The talks helped de-escalate the crisis.",)))
    assert grader.grade("The talks helped de-escalate the crisis.").keyword_coverage == 1.0
    negated = grader.grade("The talks did not de-escalate the crisis.")
    deescalate = [c for c in negated.criteria if c.matched_phrasing == "de"]
    assert negated.keyword_coverage < 1.0
    assert not deescalate


def test_negated_reference_needs_a_negated_answer() -> None:
    grader = Grader(auto_rubric(reference_answers=("Terminal one is not connected.",)))
    assert grader.grade("terminal one is not connected").keyword_coverage == 1.0
    assert grader.grade("terminal one is connected").keyword_coverage < 1.0


def test_misspelt_long_words_are_forgiven_short_ones_are_not() -> None:
    grader = Grader(auto_rubric())
    spans = [s.text for c in grader.grade("The curcuit").criteria if c.met for s in c.spans]
    assert spans == ["curcuit"]
    assert not any(c.met for c in grader.grade("The bilb").criteria)


def test_references_may_be_missing_when_graded_answers_exist() -> None:
    with pytest.raises(RubricError):
        Grader(auto_rubric(reference_answers=()))
    grader = Grader(
        auto_rubric(reference_answers=()), graded=[GradedAnswer(a, p) for a, p in GRADED]
    )
    assert grader.grade("the circuit is broken").neighbour_score is not None


def test_default_model_without_calibration() -> None:
    result = Grader(auto_rubric()).grade("The circuit is broken.")
    assert result.model == "default"
    assert result.neighbour_score is None
    assert 0.0 <= result.confidence <= 1.0
    assert result.needs_review == (result.confidence < 0.4)
    assert dict(result.components)["neighbour_mean"] == 0.0


def test_graded_neighbours_are_reported() -> None:
    result = graded_grader().grade("The switch breaks the circuit, no current can flow.")
    assert result.neighbour_score is not None
    assert result.neighbour_score > 0.7


def test_calibration_fits_and_round_trips_through_json() -> None:
    grader = graded_grader()
    calibration = fit_calibration([grader])
    assert calibration is not None
    assert calibration.neighbour is not None
    data = json.loads(json.dumps(calibration.to_dict()))
    restored = Calibration.from_dict(data)
    assert restored == calibration
    calibrated = grader.with_calibration(restored)
    good = calibrated.grade("Opening the switch breaks the circuit so no current flows.")
    bad = calibrated.grade("The battery is dead.")
    assert good.model == bad.model == "calibrated"
    assert good.points > bad.points
    assert calibrated.grade("The battery is dead.") == bad  # deterministic


def test_calibration_is_deterministic() -> None:
    assert fit_calibration([graded_grader()]) == fit_calibration([graded_grader()])


def test_fit_calibration_fits_the_graders_training_data() -> None:
    data = training_data([graded_grader()])
    assert data.x.shape == (2 * len(GRADED), len(BASE_FEATURES))
    assert data.x_neighbour.shape == (2 * len(GRADED), len(NEIGHBOUR_FEATURES))
    assert data.x.tolist() == data.x_neighbour[:, : len(BASE_FEATURES)].tolist()
    assert data.y.tolist() == data.y_neighbour.tolist()
    assert data.steps.tolist() == data.steps_neighbour.tolist() == [4.0] * 2 * len(GRADED)
    fitted = Calibration.fit(
        data.x,
        data.y,
        x_neighbour=data.x_neighbour,
        y_neighbour=data.y,
        steps=data.steps,
        steps_neighbour=data.steps_neighbour,
    )
    assert fitted == fit_calibration([graded_grader()])
    # Without neighbour rows only the base model is fitted.
    base_only = Calibration.fit(data.x, data.y)
    assert base_only.neighbour is None
    assert base_only.base == fitted.base


@pytest.mark.parametrize(
    ("x", "y"),
    [
        (np.zeros((30, len(BASE_FEATURES) + 1)), np.zeros(30)),
        (np.zeros((30, len(BASE_FEATURES))), np.zeros(29)),
        (np.zeros(30), np.zeros(30)),
    ],
)
def test_fit_refuses_rows_of_the_wrong_shape(x: np.ndarray, y: np.ndarray) -> None:
    with pytest.raises(CalibrationError, match="expected x of shape"):
        Calibration.fit(x, y)


def test_too_few_graded_answers_keep_the_default_weights() -> None:
    grader = Grader(auto_rubric(), graded=[GradedAnswer(a, p) for a, p in GRADED[:5]])
    data = training_data([grader])
    with pytest.raises(CalibrationError):
        Calibration.fit(data.x, data.y)
    assert fit_calibration([grader]) is None


def test_base_model_is_used_for_a_question_without_graded_answers() -> None:
    calibration = fit_calibration([graded_grader()])
    assert calibration is not None
    result = Grader(auto_rubric(), calibration=calibration).grade("The circuit is broken.")
    assert result.model == "calibrated"
    assert result.neighbour_score is None


@pytest.mark.parametrize(
    "data",
    [
        {"format": 99},
        {"format": 1, "n_examples": 3, "base": {"kind": "forest"}},
        {"format": 1, "n_examples": 3},
    ],
)
def test_malformed_calibration_data_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(CalibrationError):
        Calibration.from_dict(data)
