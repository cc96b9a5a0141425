"""Calibration: a small model, fitted on instructor-graded answers, from components to score.

The default model is the rubric's fixed blend of keyword coverage and similarity. Given
enough graded answers, ``Calibration.fit`` learns instead a ridge regression over the
question-independent components (coverage, similarities, length ratio, ...) followed by an
isotonic map onto 0..1, and, where the question has graded answers of its own, a second
model that also reads the nearest graded neighbours.

``fit`` takes feature rows, scikit-learn style (``features.BASE_FEATURES`` and
``features.NEIGHBOUR_FEATURES`` name the columns); ``engine.fit_calibration(graders)``
builds them from graders that hold graded answers (``engine.training_data``).

Everything fitted is kept as plain numbers: ``to_dict()`` gives JSON-able data to store
beside the rubric version, ``from_dict()`` restores it, and prediction is a dot product and
a piecewise-linear interpolation in NumPy. No scikit-learn object is ever pickled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.scoring.confidence import ErrorProfile
from service.scoring.features import BASE_FEATURES, NEIGHBOUR_FEATURE_VERSIONS, NEIGHBOUR_FEATURES
from service.scoring.models import CalibrationError, LinearIsotonicModel

__all__ = [
    "FORMAT_VERSION",
    "MIN_EXAMPLES",
    "Calibration",
    "CalibrationError",
    "LinearIsotonicModel",
]

FORMAT_VERSION = 1
# Fewer graded answers than this: keep the default weights (a model would fit noise).
MIN_EXAMPLES = 20


@dataclass(frozen=True, slots=True)
class Calibration:
    """Fitted score models: ``base`` reads question-independent components only;
    ``neighbour`` (optional) also reads the nearest graded answers of the same question and
    is used when the question has enough of them. ``error``: how large the error of each
    model's scores is expected to be (``confidence.ErrorProfile``); ``None`` for calibrations
    stored before profiles existed, whose confidence falls back to the rule."""

    base: LinearIsotonicModel
    neighbour: LinearIsotonicModel | None
    n_examples: int
    error: ErrorProfile | None = None

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        *,
        x_neighbour: np.ndarray | None = None,
        y_neighbour: np.ndarray | None = None,
        steps: np.ndarray | None = None,
        steps_neighbour: np.ndarray | None = None,
    ) -> Calibration:
        """Fit the base model on ``x`` (one row per graded answer, ``BASE_FEATURES``
        columns) and ``y`` (its score, 0..1), and the neighbour model on ``x_neighbour``
        (``NEIGHBOUR_FEATURES`` columns) and ``y_neighbour`` when there are at least
        ``MIN_EXAMPLES`` of them; and the error profile of both (``steps``, ``steps_neighbour``:
        each row's ``max_points / score_step``, so that it learns the error of rounded
        scores; optional). Raises ``CalibrationError`` with fewer than
        ``MIN_EXAMPLES`` rows in ``y``, or for arrays of the wrong shape.
        """
        x, y = _rows(x, y, BASE_FEATURES)
        if len(y) < MIN_EXAMPLES:
            raise CalibrationError(
                f"{len(y)} graded answers; at least {MIN_EXAMPLES} are needed to calibrate"
            )
        base_model = LinearIsotonicModel.fit(BASE_FEATURES, x, y)
        neighbour_model = None
        if (x_neighbour is None) != (y_neighbour is None):
            raise CalibrationError("x_neighbour and y_neighbour go together")
        if x_neighbour is not None and y_neighbour is not None:
            x_neighbour, y_neighbour = _rows(x_neighbour, y_neighbour, NEIGHBOUR_FEATURES)
            if len(y_neighbour) >= MIN_EXAMPLES:
                neighbour_model = LinearIsotonicModel.fit(
                    NEIGHBOUR_FEATURES, x_neighbour, y_neighbour
                )
        error = ErrorProfile.fit(
            x,
            y,
            x_neighbour=x_neighbour if neighbour_model is not None else None,
            y_neighbour=y_neighbour if neighbour_model is not None else None,
            steps=steps,
            steps_neighbour=steps_neighbour,
        )
        return cls(base_model, neighbour_model, len(y), error)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data; store it with the rubric version it was fitted for."""
        return {
            "format": FORMAT_VERSION,
            "n_examples": self.n_examples,
            "base": self.base.to_dict(),
            "neighbour": self.neighbour.to_dict() if self.neighbour else None,
            **({"error": self.error.to_dict()} if self.error is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        if not isinstance(data, Mapping):
            raise CalibrationError("must be an object")
        if data.get("format") != FORMAT_VERSION:
            raise CalibrationError(
                f"unsupported calibration format {data.get('format')!r}", field="format"
            )
        unknown = sorted(set(data) - {"format", "n_examples", "base", "neighbour", "error"})
        if unknown:
            raise CalibrationError("unknown key", field=str(unknown[0]))
        n_examples = data.get("n_examples")
        if isinstance(n_examples, bool) or not isinstance(n_examples, int) or n_examples < 0:
            raise CalibrationError("must be a whole number, 0 or more", field="n_examples")
        base = LinearIsotonicModel.from_dict(data.get("base"), features=BASE_FEATURES, field="base")
        neighbour = (
            LinearIsotonicModel.from_dict(
                # Also the feature list of an older engine: the grader still measures
                # those columns, so an old neighbour model predicts exactly as it did.
                data["neighbour"],
                features=NEIGHBOUR_FEATURE_VERSIONS,
                field="neighbour",
            )
            if data.get("neighbour") is not None
            else None
        )
        # Optional: calibrations stored before error profiles existed have none.
        error = ErrorProfile.from_dict(data["error"]) if data.get("error") is not None else None
        return cls(base, neighbour, n_examples, error)


def _rows(x: np.ndarray, y: np.ndarray, features: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` as float arrays, checked to be rows of ``features`` and their targets."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(features) or y.shape != (x.shape[0],):
        raise CalibrationError(
            f"expected x of shape (n, {len(features)}) and y of shape (n,), "
            f"got {x.shape} and {y.shape}"
        )
    return x, y
