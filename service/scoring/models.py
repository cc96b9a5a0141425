"""The model family of calibrations: standardise, ridge-regress, then map monotonically.

``LinearIsotonicModel`` is what a ``Calibration`` fits from components to score, and what
its error profile (``service.scoring.confidence``) fits from confidence signals to expected
error. Everything fitted is kept as plain numbers, validated on the way in
(``from_dict``), so that stored data from outside can never make a prediction non-finite.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import RidgeCV

from service.scoring.errors import ScoringError

_ALPHAS = tuple(float(a) for a in np.logspace(-2, 3, 11))

# Stored calibrations are data from outside (a file, an API body): every number must be
# finite and at most this large, every scale at least MIN_SCALE, so that predicting can never
# overflow to inf or NaN. A fitted model stays far inside both (features are about 0..1 and
# ``fit`` floors scales at MIN_SCALE).
MAX_MAGNITUDE = 1e6
MIN_SCALE = 1e-9
# Isotonic thresholds: at most one per graded answer a rubric may hold, and some to spare.
MAX_THRESHOLDS = 10_000


_MODEL_KEYS = ("kind", "features", "mean", "scale", "coef", "intercept", "iso_x", "iso_y")


class CalibrationError(ScoringError):
    """Too few graded answers to fit, or stored calibration data that cannot be used.

    ``field``: where in the calibration data the problem is (e.g. ``base.iso_y``), if known.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.problem = message


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
    def from_dict(
        cls,
        data: Any,
        *,
        features: Sequence[str] | Sequence[Sequence[str]] | None = None,
        field: str = "",
    ) -> LinearIsotonicModel:
        """Restore and validate a model; ``features``: the names it must have been fitted
        on, in order (or several such lists, any of which will do). Anything that could
        make ``predict`` give a non-finite or out-of-range score raises ``CalibrationError``
        naming the field."""
        prefix = f"{field}." if field else ""
        if not isinstance(data, Mapping):
            raise CalibrationError("must be an object", field=field or None)
        if data.get("kind") != "linear-isotonic":
            raise CalibrationError(
                f"unknown model kind {data.get('kind')!r}", field=prefix + "kind"
            )
        unknown = sorted(set(data) - set(_MODEL_KEYS))
        if unknown:
            raise CalibrationError("unknown key", field=prefix + str(unknown[0]))
        names = data.get("features")
        if not isinstance(names, list) or not all(isinstance(f, str) for f in names):
            raise CalibrationError("must be a list of feature names", field=prefix + "features")
        if features is not None and tuple(names) not in versions(features):
            raise CalibrationError(
                "calibration was fitted on other features; refit it", field=prefix + "features"
            )
        n = len(names)
        mean = _numbers(data.get("mean"), prefix + "mean", length=n)
        scale = _numbers(data.get("scale"), prefix + "scale", length=n)
        if any(v < MIN_SCALE for v in scale):
            raise CalibrationError(
                f"every scale must be at least {MIN_SCALE}", field=prefix + "scale"
            )
        coef = _numbers(data.get("coef"), prefix + "coef", length=n)
        intercept = _number(data.get("intercept"), prefix + "intercept")
        iso_x = _numbers(data.get("iso_x"), prefix + "iso_x")
        if not 1 <= len(iso_x) <= MAX_THRESHOLDS:
            raise CalibrationError(
                f"must have 1 to {MAX_THRESHOLDS} thresholds", field=prefix + "iso_x"
            )
        iso_y = _numbers(data.get("iso_y"), prefix + "iso_y", length=len(iso_x))
        for name, values in (("iso_x", iso_x), ("iso_y", iso_y)):
            if any(b < a for a, b in itertools.pairwise(values)):
                raise CalibrationError("must be non-decreasing", field=prefix + name)
        if not all(0.0 <= v <= 1.0 for v in iso_y):
            raise CalibrationError("every value must be within 0..1", field=prefix + "iso_y")
        return cls(tuple(names), mean, scale, coef, intercept, iso_x, iso_y)


def versions(features: Sequence[str] | Sequence[Sequence[str]]) -> set[tuple[str, ...]]:
    """The accepted feature lists: one list of names, or several."""
    if all(isinstance(name, str) for name in features):
        return {tuple(str(name) for name in features)}
    return {tuple(names) for names in features}


def _numbers(value: Any, field: str, *, length: int | None = None) -> tuple[float, ...]:
    """A list of finite JSON numbers of at most ``MAX_MAGNITUDE`` (``length`` of them)."""
    if not isinstance(value, list):
        raise CalibrationError("must be a list of numbers", field=field)
    if length is not None and len(value) != length:
        raise CalibrationError(f"must have {length} values, not {len(value)}", field=field)
    return tuple(_number(item, field) for item in value)


def _number(value: Any, field: str) -> float:
    """A finite JSON number of at most ``MAX_MAGNITUDE`` in size, as a float."""
    # bool is an int subclass; strings such as "nan" would pass float().
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CalibrationError("must be a number", field=field)
    if not (-MAX_MAGNITUDE <= value <= MAX_MAGNITUDE):  # False for NaN; ints never overflow
        raise CalibrationError(f"must be finite and at most {MAX_MAGNITUDE:g} in size", field=field)
    return float(value)


def _floats(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(values, dtype=np.float64).ravel())
