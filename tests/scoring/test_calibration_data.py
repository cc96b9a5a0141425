"""Stored calibration data is accepted only if every prediction it can make is a finite
score in 0..1, and the engine never returns a score off the scale."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from service.scoring import (
    Calibration,
    CalibrationError,
    GradedAnswer,
    Grader,
    RubricSpec,
    fit_calibration,
)
from service.scoring.features import BASE_FEATURES, NEIGHBOUR_FEATURES
from tests.scoring.test_calibration import GRADED, auto_rubric


def model(features: tuple[str, ...]) -> dict[str, Any]:
    n = len(features)
    return {
        "kind": "linear-isotonic",
        "features": list(features),
        "mean": [0.5] * n,
        "scale": [0.25] * n,
        "coef": [0.1] * n,
        "intercept": 0.5,
        "iso_x": [-1.0, 0.0, 1.0],
        "iso_y": [0.0, 0.5, 1.0],
    }


def calibration_data() -> dict[str, Any]:
    return {
        "format": 1,
        "n_examples": 24,
        "base": model(BASE_FEATURES),
        "neighbour": model(NEIGHBOUR_FEATURES),
    }


def test_a_fitted_calibration_validates() -> None:
    graded = [GradedAnswer(answer, points) for answer, points in GRADED * 2]
    fitted = fit_calibration([Grader(auto_rubric(), graded=graded)])
    assert fitted is not None
    assert Calibration.from_dict(fitted.to_dict()) == fitted
    assert Calibration.from_dict(calibration_data()).n_examples == 24


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    *parents, last = path.split(".")
    target = changed
    for part in parents:
        target = target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return changed


_DELETE = object()
N = len(BASE_FEATURES)

INVALID = [
    ("format", 2, "format"),
    ("n_examples", -1, "n_examples"),
    ("n_examples", 2.5, "n_examples"),
    ("surprise", 1, "surprise"),
    ("base", None, "base"),
    ("base.kind", "neural", "base.kind"),
    ("base.features", list(reversed(BASE_FEATURES)), "base.features"),
    ("base.features", [*BASE_FEATURES, "extra"], "base.features"),
    ("neighbour.features", list(BASE_FEATURES), "neighbour.features"),
    ("base.mean", [0.5] * (N - 1), "base.mean"),
    ("base.mean", [math.nan] * N, "base.mean"),
    ("base.coef", [math.inf] * N, "base.coef"),
    ("base.coef", [10**400] * N, "base.coef"),
    ("base.coef", ["0.1"] * N, "base.coef"),
    ("base.coef", [True] * N, "base.coef"),
    ("base.scale", [0.0] * N, "base.scale"),
    ("base.scale", [-1.0] * N, "base.scale"),
    ("base.intercept", math.nan, "base.intercept"),
    ("base.intercept", -math.inf, "base.intercept"),
    ("base.intercept", _DELETE, "base.intercept"),
    ("base.iso_x", [1.0, 0.0, 2.0], "base.iso_x"),
    ("base.iso_x", [], "base.iso_x"),
    ("base.iso_y", [0.0, 0.5], "base.iso_y"),
    ("base.iso_y", [0.5, 0.4, 1.0], "base.iso_y"),
    ("base.iso_y", [0.0, 0.5, 1.5], "base.iso_y"),
    ("base.iso_y", [-0.1, 0.5, 1.0], "base.iso_y"),
    ("base.iso_y", [0.0, math.nan, 1.0], "base.iso_y"),
    ("base.other", 1, "base.other"),
]


@pytest.mark.parametrize(("path", "value", "field"), INVALID)
def test_invalid_calibration_data_is_refused_naming_the_field(
    path: str, value: Any, field: str
) -> None:
    with pytest.raises(CalibrationError) as raised:
        Calibration.from_dict(_set(calibration_data(), path, value))
    assert raised.value.field == field


@pytest.mark.parametrize("size", [1e6, -1e6])
def test_extreme_valid_calibrations_score_on_the_scale(size: float) -> None:
    data = calibration_data()
    for name in ("base", "neighbour"):
        data[name] |= {
            "mean": [-size] * len(data[name]["features"]),
            "scale": [1e-9] * len(data[name]["features"]),
            "coef": [size] * len(data[name]["features"]),
            "intercept": size,
            "iso_x": [-1e6, 1e6],
            "iso_y": [0.0, 1.0],
        }
    rubric: RubricSpec = auto_rubric()
    graded = [GradedAnswer(answer, points) for answer, points in GRADED]
    grader = Grader(rubric, graded=graded, calibration=Calibration.from_dict(data))
    for answer in ("The switch breaks the circuit.", "x", "no no no"):
        result = grader.grade(answer)
        assert result.model == "calibrated"
        assert 0 <= result.points <= rubric.max_points
        assert all(math.isfinite(v) for v in (result.raw, result.score, result.confidence))
