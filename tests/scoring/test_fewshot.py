"""Few-shot calibration: a shrunk monotone map from a handful of one question's grades."""

from __future__ import annotations

import json

import pytest

from service.scoring import CalibrationError, GradedAnswer, Grader
from service.scoring.fewshot import FewShotCalibration, is_fewshot
from service.scoring.pilot import MIN_TO_CALIBRATE
from tests.scoring.test_calibration import GRADED, auto_rubric


def test_too_few_grades_are_refused() -> None:
    few = [0.5] * (MIN_TO_CALIBRATE - 1)
    with pytest.raises(CalibrationError, match=f"at least {MIN_TO_CALIBRATE}"):
        FewShotCalibration.fit_scores(few, None, few)
    grader = Grader(auto_rubric(), graded=[GradedAnswer(a, p) for a, p in GRADED[:4]])
    assert FewShotCalibration.fit_if_enough(grader) is None


def test_a_consistently_harsh_teacher_moves_the_map_toward_the_teacher() -> None:
    machine = [0.1, 0.3, 0.5, 0.7, 0.9, 0.2, 0.6, 0.8, 0.4, 1.0]
    teacher = [0.5 * m for m in machine]  # half the machine's score, every time
    fitted = FewShotCalibration.fit_scores(machine, None, teacher)
    assert fitted.slope < 0.8
    for m in (0.2, 0.6, 1.0):
        assert abs(fitted.predict(m, None) - 0.5 * m) < abs(m - 0.5 * m)


def test_noise_keeps_the_map_near_the_identity() -> None:
    # No relation at all between machine and teacher: a few grades must not flip the scale.
    machine = [0.1, 0.9, 0.5, 0.3, 0.7]
    teacher = [0.6, 0.4, 0.5, 0.4, 0.6]
    fitted = FewShotCalibration.fit_scores(machine, None, teacher)
    assert fitted.slope >= 0.0
    scores = [fitted.predict(m / 10, None) for m in range(11)]
    assert scores == sorted(scores)  # monotone


def test_good_neighbours_earn_weight() -> None:
    # The machine is useless here; the graded neighbours predict the teacher well.
    machine = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    teacher = [0.0, 1.0, 0.0, 1.0, 0.5, 0.0, 1.0, 0.5]
    neighbour = [0.1, 0.9, 0.1, 0.8, 0.5, 0.2, 0.9, 0.4]
    fitted = FewShotCalibration.fit_scores(machine, neighbour, teacher)
    assert fitted.neighbour_weight >= 0.5
    assert fitted.predict(0.5, 0.9) > fitted.predict(0.5, 0.1)
    # Without neighbours to read, the machine's line alone scores.
    assert fitted.predict(0.5, None) == pytest.approx(fitted.intercept + fitted.slope * 0.5)


def test_a_grader_with_a_few_shot_calibration_scores_as_calibrated() -> None:
    graded = [GradedAnswer(a, p) for a, p in GRADED[:8]]
    grader = Grader(auto_rubric(), graded=graded)
    fitted = FewShotCalibration.fit(grader)
    assert fitted.n_examples == 8
    calibrated = grader.with_calibration(fitted)
    result = calibrated.grade("The battery is dead.")
    assert result.model == "calibrated"
    assert 0.0 <= result.raw <= 1.0
    assert grader.grade("The battery is dead.").model == "default"


def test_round_trip_through_json() -> None:
    fitted = FewShotCalibration(0.05, 0.8, 0.25, 7)
    data = json.loads(json.dumps(fitted.to_dict()))
    assert is_fewshot(data)
    assert not is_fewshot({"format": 1, "base": {}})
    assert FewShotCalibration.from_dict(data) == fitted


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slope": -0.5}, "slope"),
        ({"slope": float("nan")}, "slope"),
        ({"intercept": float("inf")}, "intercept"),
        ({"intercept": "0"}, "intercept"),
        ({"neighbour_weight": 1.5}, "neighbour_weight"),
        ({"neighbour_weight": True}, "neighbour_weight"),
        ({"n_examples": -1}, "n_examples"),
        ({"format": 2}, "format"),
        ({"kind": "linear"}, "kind"),
        ({"extra": 1}, "extra"),
    ],
)
def test_stored_data_is_validated(change: dict[str, object], field: str) -> None:
    data = {**FewShotCalibration(0.0, 1.0, 0.0, 5).to_dict(), **change}
    with pytest.raises(CalibrationError) as caught:
        FewShotCalibration.from_dict(data)
    assert caught.value.field == field
