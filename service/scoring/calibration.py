"""Calibration: a small model, fitted on instructor-graded answers, from components to score.

The default model is the rubric's fixed blend of keyword coverage and similarity. Given
enough graded answers, ``Calibration.fit`` learns instead a ridge regression over the
question-independent components (coverage, similarities, length ratio, ...) followed by an
isotonic map onto 0..1, and, where the question has graded answers of its own, a second
model that also reads the nearest graded neighbours.

Everything fitted is kept as plain numbers: ``to_dict()`` gives JSON-able data to store
beside the rubric version, ``from_dict()`` restores it, and prediction is a dot product and
a piecewise-linear interpolation in NumPy. No scikit-learn object is ever pickled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import RidgeCV

from service.scoring.errors import ScoringError

if TYPE_CHECKING:
    from service.scoring.engine import Grader

FORMAT_VERSION = 1
# Fewer graded answers than this: keep the default weights (a model would fit noise).
MIN_EXAMPLES = 20
_ALPHAS = tuple(float(a) for a in np.logspace(-2, 3, 11))


class CalibrationError(ScoringError):
    """Too few graded answers to fit, or stored calibration data that cannot be used."""


@dataclass(frozen=True, slots=True)
class LinearIsotonicModel:
    """Standardise, ridge-regress, then map monotonically onto 0..1."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    iso_x: tuple[float, ...]
    iso_y: tuple[float, ...]

    @classmethod
    def fit(cls, features: Sequence[str], x: np.ndarray, y: np.ndarray) -> LinearIsotonicModel:
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale < 1e-9] = 1.0
        z = (x - mean) / scale
        ridge = RidgeCV(alphas=_ALPHAS).fit(z, y)
        linear = z @ ridge.coef_ + ridge.intercept_
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(linear, y)
        return cls(
            features=tuple(features),
            mean=_floats(mean),
            scale=_floats(scale),
            coef=_floats(ridge.coef_),
            intercept=float(ridge.intercept_),
            iso_x=_floats(iso.X_thresholds_),
            iso_y=_floats(iso.y_thresholds_),
        )

    def linear(self, x: np.ndarray) -> np.ndarray:
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.asarray(z @ np.asarray(self.coef) + self.intercept, dtype=np.float64)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Scores in 0..1 for rows of ``x`` (columns in ``self.features`` order)."""
        linear = self.linear(x)
        if len(self.iso_x) == 1:
            return np.full(linear.shape, self.iso_y[0], dtype=np.float64)
        mapped: np.ndarray = np.clip(np.interp(linear, self.iso_x, self.iso_y), 0.0, 1.0)
        return mapped

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "linear-isotonic",
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "iso_x": list(self.iso_x),
            "iso_y": list(self.iso_y),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinearIsotonicModel:
        if data.get("kind") != "linear-isotonic":
            raise CalibrationError(f"unknown model kind {data.get('kind')!r}")
        model = cls(
            features=tuple(str(f) for f in data["features"]),
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) for v in data["scale"]),
            coef=tuple(float(v) for v in data["coef"]),
            intercept=float(data["intercept"]),
            iso_x=tuple(float(v) for v in data["iso_x"]),
            iso_y=tuple(float(v) for v in data["iso_y"]),
        )
        n = len(model.features)
        if not (len(model.mean) == len(model.scale) == len(model.coef) == n) or not (
            len(model.iso_x) == len(model.iso_y) >= 1
        ):
            raise CalibrationError("calibration arrays have inconsistent lengths")
        return model


@dataclass(frozen=True, slots=True)
class Calibration:
    """Fitted score models: ``base`` reads question-independent components only;
    ``neighbour`` (optional) also reads the nearest graded answers of the same question and
    is used when the question has enough of them."""

    base: LinearIsotonicModel
    neighbour: LinearIsotonicModel | None
    n_examples: int

    @classmethod
    def fit(cls, graders: Sequence[Grader]) -> Calibration:
        """Fit on the graded answers each grader holds (``Grader(..., graded=...)``).

        One grader: a per-rubric calibration. Several: a model over question-independent
        components shared by the questions (e.g. a course). A graded answer's neighbour
        features are computed with the answer itself left out, as they will be for a new
        answer. Raises ``CalibrationError`` with fewer than ``MIN_EXAMPLES`` answers.
        """
        from service.scoring.engine import BASE_FEATURES, NEIGHBOUR_FEATURES

        base_rows: list[np.ndarray] = []
        base_y: list[float] = []
        neighbour_rows: list[np.ndarray] = []
        neighbour_y: list[float] = []
        for grader in graders:
            base, full, y, has_neighbours = grader.training_rows()
            base_rows.append(base)
            base_y.extend(y)
            if has_neighbours:
                neighbour_rows.append(full)
                neighbour_y.extend(y)
        if len(base_y) < MIN_EXAMPLES:
            raise CalibrationError(
                f"{len(base_y)} graded answers; at least {MIN_EXAMPLES} are needed to calibrate"
            )
        base_model = LinearIsotonicModel.fit(
            BASE_FEATURES, np.vstack(base_rows), np.asarray(base_y, dtype=np.float64)
        )
        neighbour_model = None
        if len(neighbour_y) >= MIN_EXAMPLES:
            neighbour_model = LinearIsotonicModel.fit(
                NEIGHBOUR_FEATURES,
                np.vstack(neighbour_rows),
                np.asarray(neighbour_y, dtype=np.float64),
            )
        return cls(base_model, neighbour_model, len(base_y))

    @classmethod
    def fit_if_enough(cls, graders: Sequence[Grader]) -> Calibration | None:
        """``fit``, or ``None`` (keep the default weights) when there are too few answers."""
        try:
            return cls.fit(graders)
        except CalibrationError:
            return None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data; store it with the rubric version it was fitted for."""
        return {
            "format": FORMAT_VERSION,
            "n_examples": self.n_examples,
            "base": self.base.to_dict(),
            "neighbour": self.neighbour.to_dict() if self.neighbour else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        from service.scoring.engine import BASE_FEATURES, NEIGHBOUR_FEATURES

        if data.get("format") != FORMAT_VERSION:
            raise CalibrationError(f"unsupported calibration format {data.get('format')!r}")
        try:
            base = LinearIsotonicModel.from_dict(data["base"])
            neighbour = (
                LinearIsotonicModel.from_dict(data["neighbour"]) if data.get("neighbour") else None
            )
            n_examples = int(data["n_examples"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"malformed calibration data: {exc}") from exc
        if base.features != BASE_FEATURES or (
            neighbour is not None and neighbour.features != NEIGHBOUR_FEATURES
        ):
            raise CalibrationError("calibration was fitted on other features; refit it")
        return cls(base, neighbour, n_examples)


def _floats(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(values, dtype=np.float64).ravel())
