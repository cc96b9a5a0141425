"""Few-shot calibration: a question's own handful of teacher grades, from ``MIN_TO_CALIBRATE``.

A full ``Calibration`` (ridge over every component, then an isotonic map) needs
``MIN_EXAMPLES`` graded answers; with five or ten it would fit noise. This model asks less
of them. The machine score ``m`` (the rubric's default blend, 0..1) is mapped onto the
teacher's scale by a line ``a + b*m`` whose coefficients are shrunk toward the identity
(``a = 0, b = 1``: "the machine is right") like a Bayesian linear regression with the
identity as prior mean: with few or noisy grades the map stays close to the machine, with
consistent ones it moves to the teacher's leniency or harshness. The slope is kept
non-negative, so the map is monotone (a better machine score never scores lower).

Where the question has graded neighbours (the graded answers themselves, once there are
``MIN_NEIGHBOURS``), the prediction blends in their similarity-weighted mean score:
``(1 - w) * (a + b*m) + w * neighbour_mean``. The prior strength and ``w`` are chosen per
question by leave-one-out error on its own grades (each graded answer predicted by a map
fitted on the others, its neighbours computed without itself), so the model adapts to how
well the machine and the neighbours do on this question, with no constant tuned on a test set.

Stored as plain numbers like ``Calibration`` (``to_dict``/``from_dict``, validated as strictly).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from service.scoring.calibration import FORMAT_VERSION, CalibrationError
from service.scoring.confidence import pessimistic_error
from service.scoring.pilot import MIN_TO_CALIBRATE

if TYPE_CHECKING:
    from service.scoring.engine import Grader

KIND = "few-shot"
# Prior strengths, in pseudo-answers that sit on the identity map (strongest first: on a tie
# in leave-one-out error the more cautious map wins).
PRIOR_STRENGTHS = (8.0, 3.0, 1.0)
# Weights of the graded neighbours' mean (0 first: on a tie, the machine score alone).
NEIGHBOUR_WEIGHTS = (0.0, 0.25, 0.5, 0.75)
# Bounds a stored map must keep (a fitted one stays far inside): scores stay finite.
MAX_SLOPE = 10.0
MAX_INTERCEPT = 10.0
_KEYS = ("format", "kind", "n_examples", "intercept", "slope", "neighbour_weight", "error")


@dataclass(frozen=True, slots=True)
class FewShotCalibration:
    """``score = (1 - neighbour_weight) * (intercept + slope * machine)
    + neighbour_weight * neighbour_mean`` (the neighbour term only where there are graded
    neighbours), clipped to 0..1. ``machine``: the rubric's default blend, 0..1.
    ``error``: the map's pessimistic leave-one-out absolute error (mean plus one standard
    error, ``confidence.pessimistic_error``), which caps its confidence; ``None`` for maps
    stored before it was kept."""

    intercept: float
    slope: float
    neighbour_weight: float
    n_examples: int
    error: float | None = None

    @classmethod
    def fit(cls, grader: Grader) -> FewShotCalibration:
        """Fit on the graded answers ``grader`` holds (``Grader(..., graded=...)``).

        Raises ``CalibrationError`` with fewer than ``MIN_TO_CALIBRATE`` of them.
        """
        machine, neighbour, teacher = grader.fewshot_rows()
        return cls.fit_scores(machine, neighbour, teacher)

    @classmethod
    def fit_scores(
        cls,
        machine: Sequence[float],
        neighbour: Sequence[float] | None,
        teacher: Sequence[float],
    ) -> FewShotCalibration:
        """Fit on machine scores, leave-one-out neighbour means (``None``: the question has
        too few graded answers for neighbours) and teacher scores, all 0..1."""
        n = len(teacher)
        if n < MIN_TO_CALIBRATE:
            raise CalibrationError(
                f"{n} graded answers; at least {MIN_TO_CALIBRATE} are needed to calibrate"
            )
        m = np.asarray(machine, dtype=np.float64)
        t = np.asarray(teacher, dtype=np.float64)
        nb = np.asarray(neighbour, dtype=np.float64) if neighbour is not None else None
        if m.shape != t.shape or (nb is not None and nb.shape != t.shape):
            raise CalibrationError("machine, neighbour and teacher scores must match")
        weights = NEIGHBOUR_WEIGHTS if nb is not None else (0.0,)
        best: tuple[float, float, float] | None = None  # (error, strength, weight)
        for strength in PRIOR_STRENGTHS:
            for weight in weights:
                error = _loo_error(m, nb, t, strength, weight)
                if best is None or error < best[0] - 1e-12:
                    best = (error, strength, weight)
        assert best is not None  # the grids are not empty
        _, strength, weight = best
        intercept, slope = _fit_line(m, nb, t, strength, weight)
        error = pessimistic_error(np.abs(_loo_predictions(m, nb, t, strength, weight) - t))
        return cls(intercept, slope, weight, n, error)

    @classmethod
    def fit_if_enough(cls, grader: Grader) -> FewShotCalibration | None:
        """``fit``, or ``None`` (keep the default weights) with too few graded answers."""
        if len(grader.graded) < MIN_TO_CALIBRATE:
            return None
        return cls.fit(grader)

    def predict(self, machine: float, neighbour: float | None) -> float:
        """The calibrated score (0..1) of an answer: its machine score and, where the
        question has graded neighbours, their mean score for it."""
        line = self.intercept + self.slope * machine
        if neighbour is not None:
            line = (1.0 - self.neighbour_weight) * line + self.neighbour_weight * neighbour
        return min(1.0, max(0.0, line)) if math.isfinite(line) else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data; stored in the rubric version like a ``Calibration``."""
        return {
            "format": FORMAT_VERSION,
            "kind": KIND,
            "n_examples": self.n_examples,
            "intercept": self.intercept,
            "slope": self.slope,
            "neighbour_weight": self.neighbour_weight,
            **({"error": self.error} if self.error is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FewShotCalibration:
        """Restore and validate; anything that could make ``predict`` misbehave raises
        ``CalibrationError`` naming the field."""
        if not isinstance(data, Mapping):
            raise CalibrationError("must be an object")
        if data.get("format") != FORMAT_VERSION:
            raise CalibrationError(
                f"unsupported calibration format {data.get('format')!r}", field="format"
            )
        if data.get("kind") != KIND:
            raise CalibrationError(f"unknown kind {data.get('kind')!r}", field="kind")
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise CalibrationError("unknown key", field=str(unknown[0]))
        n_examples = data.get("n_examples")
        if isinstance(n_examples, bool) or not isinstance(n_examples, int) or n_examples < 0:
            raise CalibrationError("must be a whole number, 0 or more", field="n_examples")
        intercept = _bounded(data.get("intercept"), "intercept", -MAX_INTERCEPT, MAX_INTERCEPT)
        slope = _bounded(data.get("slope"), "slope", 0.0, MAX_SLOPE)
        weight = _bounded(data.get("neighbour_weight"), "neighbour_weight", 0.0, 1.0)
        # Optional: maps stored before it was kept have none.
        error = (
            _bounded(data["error"], "error", 0.0, 1.0) if data.get("error") is not None else None
        )
        return cls(intercept, slope, weight, n_examples, error)


def is_fewshot(data: Any) -> bool:
    """Whether stored calibration data is a few-shot map (else a full ``Calibration``)."""
    return isinstance(data, Mapping) and data.get("kind") == KIND


def _fit_line(
    m: np.ndarray, nb: np.ndarray | None, t: np.ndarray, strength: float, weight: float
) -> tuple[float, float]:
    """Posterior-mean line under a Gaussian prior centred on the identity.

    Minimises ``sum((t - w*nb - (1-w)*(a + b*m))**2) + strength*(a**2 + (b-1)**2)``
    (closed form), then keeps the slope non-negative so the map stays monotone.
    """
    scale = 1.0 - weight
    target = t - weight * nb if nb is not None and weight else t
    design = scale * np.column_stack([np.ones_like(m), m])
    prior = np.array([0.0, 1.0])
    lhs = design.T @ design + strength * np.eye(2)
    rhs = design.T @ target + strength * prior
    intercept, slope = (float(v) for v in np.linalg.solve(lhs, rhs))
    if slope < 0.0:
        # The best flat line under the same prior on the intercept.
        slope = 0.0
        intercept = float(scale * (target.sum()) / (scale * scale * len(t) + strength))
    intercept = min(MAX_INTERCEPT, max(-MAX_INTERCEPT, intercept))
    return intercept, min(MAX_SLOPE, slope)


def _loo_error(
    m: np.ndarray, nb: np.ndarray | None, t: np.ndarray, strength: float, weight: float
) -> float:
    """Mean squared leave-one-out error of the map with this prior strength and weight."""
    return float(np.mean((_loo_predictions(m, nb, t, strength, weight) - t) ** 2))


def _loo_predictions(
    m: np.ndarray, nb: np.ndarray | None, t: np.ndarray, strength: float, weight: float
) -> np.ndarray:
    """Each grade's prediction (0..1) by the map fitted on the others."""
    predictions = []
    for j in range(len(t)):
        keep = np.arange(len(t)) != j
        intercept, slope = _fit_line(
            m[keep], nb[keep] if nb is not None else None, t[keep], strength, weight
        )
        line = intercept + slope * m[j]
        if nb is not None:
            line = (1.0 - weight) * line + weight * nb[j]
        predictions.append(min(1.0, max(0.0, line)))
    return np.asarray(predictions, dtype=np.float64)


def _bounded(value: Any, field: str, low: float, high: float) -> float:
    # bool is an int subclass; NaN fails both comparisons.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CalibrationError("must be a number", field=field)
    if not (low <= value <= high):
        raise CalibrationError(f"must be within {low:g}..{high:g}", field=field)
    return float(value)
