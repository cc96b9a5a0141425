"""Confidence: the error profile fitted on out-of-fold residuals, its storage, the rule it
falls back to, and the few-shot cap."""

from __future__ import annotations

import json

import numpy as np
import pytest

from service.scoring import Calibration, CalibrationError, GradedAnswer, Grader, fit_calibration
from service.scoring.confidence import (
    BASE_SIGNALS,
    NEIGHBOUR_SIGNALS,
    REVIEW_FACTOR,
    REVIEW_THRESHOLD,
    ErrorProfile,
    fewshot_confidence,
    pessimistic_error,
    rule_confidence,
    signal_rows,
)
from service.scoring.features import BASE_FEATURES, NEIGHBOUR_FEATURES, feature_rows
from service.scoring.fewshot import FewShotCalibration
from tests.scoring.test_calibration import GRADED, auto_rubric, graded_grader


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Base feature rows whose components agree, scored by a teacher who is consistent at
    the ends of the scale and erratic in its middle third."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(0, 1, n)
    x = np.column_stack([np.clip(u + rng.normal(0, 0.02, n), 0, 1) for _ in BASE_FEATURES])
    noise = np.where(np.abs(u - 0.5) < 1 / 6, 0.3, 0.03)
    y = np.clip(u + rng.normal(0, 1, n) * noise, 0, 1)
    return x, y


def test_expected_error_follows_the_error_on_held_out_rows() -> None:
    x, y = synthetic(400, seed=1)
    calibration = Calibration.fit(x, y)
    assert calibration.error is not None
    test_x, test_y = synthetic(2000, seed=2)
    predicted = calibration.base.predict(test_x)
    expected = np.asarray(
        [
            calibration.error.expected_error(float(p), row, neighbours=False)
            for p, row in zip(predicted, test_x, strict=True)
        ]
    )
    errors = np.abs(predicted - test_y)
    order = np.argsort(expected)
    low = errors[order[-len(order) // 5 :]].mean()  # the least confident fifth
    rest = errors[order[: -len(order) // 5]].mean()
    assert low >= 2 * rest
    # Mid-scale predictions are expected to err more than those at either end.
    width = len(BASE_FEATURES)
    mid = calibration.error.expected_error(0.5, np.full(width, 0.5), neighbours=False)
    end = calibration.error.expected_error(0.02, np.full(width, 0.02), neighbours=False)
    assert mid > end
    # The expected error is on the scale of the real one (it is a mean absolute error).
    assert expected.mean() == pytest.approx(errors.mean(), rel=0.35)


def test_signals_read_position_boundary_and_disagreement() -> None:
    agree = np.full((1, len(BASE_FEATURES)), 0.5)
    disagree = agree.copy()
    disagree[0, BASE_FEATURES.index("keyword_coverage")] = 1.0
    rows = np.vstack([agree, disagree, agree])
    signals = signal_rows(np.array([0.5, 0.5, 1.0]), rows, neighbours=False)
    assert signals.shape == (3, len(BASE_SIGNALS))
    position, boundary, disagreement = signals.T
    assert position.tolist() == [1.0, 1.0, 0.0]
    assert boundary.tolist() == [0.0, 0.0, 0.0]  # steps unknown
    assert disagreement.tolist() == [0.0, 0.5, 0.5]
    # One step (0/1 scores): 0.5 is on the rounding boundary, 1.0 as far from one as can be.
    stepped = signal_rows(np.array([0.5, 0.5, 1.0]), rows, neighbours=False, steps=np.ones(3))
    assert stepped[:, 1].tolist() == [1.0, 1.0, 0.0]
    neighbour_rows = np.zeros((2, len(NEIGHBOUR_FEATURES)))
    shape = signal_rows(np.zeros(2), neighbour_rows, neighbours=True).shape
    assert shape == (2, len(NEIGHBOUR_SIGNALS))


def test_profile_is_stored_with_the_calibration_and_restored() -> None:
    calibration = fit_calibration([graded_grader()])
    assert calibration is not None
    assert calibration.error is not None
    assert calibration.error.neighbour is not None
    data = json.loads(json.dumps(calibration.to_dict()))
    assert set(data["error"]) == {"base", "neighbour", "base_error", "neighbour_error"}
    assert Calibration.from_dict(data) == calibration


def test_a_calibration_stored_without_a_profile_falls_back_to_the_rule() -> None:
    grader = graded_grader()
    calibration = fit_calibration([grader])
    assert calibration is not None
    data = calibration.to_dict()
    del data["error"]  # as stored before error profiles existed
    old = Calibration.from_dict(data)
    assert old.error is None
    answer = "The circuit is broken."
    result = grader.with_calibration(old).grade(answer)
    assert result.needs_review == (result.confidence < REVIEW_THRESHOLD)
    # Same score as with the profile: confidence never changes the points.
    assert grader.with_calibration(calibration).grade(answer).points == result.points


def test_graded_confidence_is_one_minus_the_expected_error() -> None:
    grader = graded_grader()
    calibration = fit_calibration([grader])
    assert calibration is not None
    assert calibration.error is not None
    calibrated = grader.with_calibration(calibration)
    answer = "Electricity stops."
    result = calibrated.grade(answer)
    row = feature_rows([grader._measure(answer).features])[0]
    assert calibration.neighbour is not None
    predicted = float(calibration.neighbour.predict(row[None, :])[0])
    base = float(calibration.base.predict(row[None, : len(BASE_FEATURES)])[0])
    expected = calibration.error.expected_error(
        predicted, row, neighbours=True, steps=4.0, base_predicted=base
    )
    assert calibration.error.neighbour_error is not None
    assert result.confidence == round(1 - expected, 4)
    assert result.needs_review == (expected >= REVIEW_FACTOR * calibration.error.neighbour_error)


def test_needs_review_is_relative_to_the_models_own_error() -> None:
    x, y = synthetic(100, seed=3)
    profile = ErrorProfile.fit(x, y)
    assert profile is not None
    typical = profile.base_error
    assert profile.needs_review(REVIEW_FACTOR * typical, neighbours=False)
    assert not profile.needs_review(REVIEW_FACTOR * typical * 0.99, neighbours=False)
    # No neighbour model: the base model's error is the yardstick.
    assert profile.neighbour is None
    assert profile.needs_review(REVIEW_FACTOR * typical, neighbours=True)


def test_too_few_rows_give_no_profile() -> None:
    x, y = synthetic(9, seed=4)
    assert ErrorProfile.fit(x, y) is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"base_error": 1.5}, "error.base_error"),
        ({"base_error": float("nan")}, "error.base_error"),
        ({"extra": 1}, "error.extra"),
        ({"base": {"kind": "forest"}}, "error.base.kind"),
    ],
)
def test_stored_profiles_are_validated(change: dict[str, object], field: str) -> None:
    calibration = fit_calibration([graded_grader()])
    assert calibration is not None
    data = calibration.to_dict()
    data["error"] = {**data["error"], **change}
    with pytest.raises(CalibrationError) as caught:
        Calibration.from_dict(data)
    assert caught.value.field == field


def test_profile_with_signals_of_another_version_is_refused() -> None:
    calibration = fit_calibration([graded_grader()])
    assert calibration is not None
    data = calibration.to_dict()
    data["error"]["base"]["features"] = ["position"]
    with pytest.raises(CalibrationError):
        Calibration.from_dict(data)


def test_rule_confidence_is_low_beside_a_rounding_boundary() -> None:
    rubric = auto_rubric()  # 2 points in steps of 0.5: boundaries at raw 0.125, 0.375, ...
    assert rule_confidence(0.125, (0.125,), None, rubric) == 0.5
    assert rule_confidence(0.25, (0.25,), None, rubric) == 1.0


def test_few_grades_give_a_more_pessimistic_error() -> None:
    errors = np.array([0.1, 0.3, 0.2, 0.0, 0.2])
    assert pessimistic_error(errors) > errors.mean()
    assert pessimistic_error(np.tile(errors, 4)) < pessimistic_error(errors)
    assert fewshot_confidence(0.9, 0.3) == 0.7
    assert fewshot_confidence(0.5, 0.3) == 0.5
    assert fewshot_confidence(0.9, None) == 0.9


def test_few_shot_confidence_is_capped_by_its_leave_one_out_error() -> None:
    grader = Grader(auto_rubric(), graded=[GradedAnswer(a, p) for a, p in GRADED[:8]])
    fitted = FewShotCalibration.fit(grader)
    assert fitted.error is not None
    assert 0.0 < fitted.error <= 1.0
    result = grader.with_calibration(fitted).grade("The switch breaks the circuit.")
    assert result.confidence <= round(1 - fitted.error, 4)
    # Stored before the error was kept: loads, and the rule alone gives the confidence.
    data = fitted.to_dict()
    assert data["error"] == fitted.error
    del data["error"]
    old = FewShotCalibration.from_dict(data)
    assert old.error is None
    assert FewShotCalibration.from_dict(fitted.to_dict()) == fitted
