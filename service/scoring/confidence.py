"""Confidence: how large the error of a score is expected to be, and when a teacher should look.

Two sources, from the best to the fallback:

* **Error profile** (a calibrated question, ``Calibration.error``): fitted at calibration time
  on *out-of-fold* residuals of the training rows. Each training answer is scored by the same
  kind of calibration model fitted without it (``FOLDS``-fold), and a small model of the same
  family (ridge over standardised signals, then an isotonic map onto 0..1) learns its absolute
  error from a few signals that say why a score could be off: how close to mid-scale the
  prediction is, how much the independent estimates disagree and, where the question has
  graded answers, how similar the nearest one is and how much the neighbours disagree. The
  result is an *expected error* in 0..1 of the maximum points, specific to this question's
  (or course's) own teachers and answers; confidence is ``1 - expected error``.
  ``needs_review`` when the expected error is ``REVIEW_FACTOR`` times the model's own mean
  out-of-fold error or more: an answer the model is clearly less sure of than usual.
* **Rule** (zero-shot, and calibrations stored before error profiles existed): agreement of
  the component estimates and distance to the nearest rounding boundary (``rule_confidence``);
  ``needs_review`` below ``REVIEW_THRESHOLD``.

A few-shot calibration (``FewShotCalibration``) has too few grades to fit a profile; its
confidence is the rule's, capped by one minus its pessimistic leave-one-out error
(``fewshot_confidence``), so that few or inconsistent grades lower it overall.

Everything is plain numbers (``to_dict``/``from_dict``), validated like a calibration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import KFold

from service.scoring.features import BASE_FEATURES, NEIGHBOUR_FEATURES
from service.scoring.models import CalibrationError, LinearIsotonicModel, _number
from service.scoring.similarity import Neighbours
from service.scoring.types import RubricSpec

# Rule: below this confidence a score is flagged for an instructor to review.
REVIEW_THRESHOLD = 0.4
# Error profile: flag an answer whose expected error is half as large again as the model's
# mean out-of-fold error. A ratio to the model's own typical error, not an absolute number,
# so that it means the same on a 0/1 question, a 0-5 one and a course-wide model.
REVIEW_FACTOR = 1.5
# Folds of the out-of-fold residuals: the usual 5, so that every fold's model is fitted on
# four fifths of the rows (close to the full model) and each row is predicted once.
FOLDS = 5
# Fewer rows than this: no profile. A calibration has MIN_EXAMPLES (20) rows or more, so this
# only keeps every fold non-trivial for a caller that fits a profile on its own.
_MIN_ROWS = 2 * FOLDS

# What the error model reads; every signal is 0..1, larger meaning "could well be off".
BASE_SIGNALS: tuple[str, ...] = (
    "position",  # 4p(1-p) of the predicted score p: 1 at mid-scale, 0 at either end
    "boundary",  # closeness of p to a rounding boundary of the score step: 1 on one
    "disagreement",  # range of prediction, keyword coverage and similarity (and neighbours)
)
NEIGHBOUR_SIGNALS: tuple[str, ...] = (
    *BASE_SIGNALS,
    "neighbour_distance",  # 1 - similarity to the nearest graded answer
    "neighbour_spread",  # range of the word kNN mean, character kNN mean and nearest grade
    "neighbour_ambiguity",  # similarity to the nearest graded answer of the *other* side
    "graded_position",  # 4m(1-m) of the question's mean grade m: how mixed its grades are
    "model_disagreement",  # |neighbour model's score - base model's score| for the answer
)
_KEYS = ("base", "neighbour", "base_error", "neighbour_error")


def signal_rows(
    predicted: np.ndarray,
    x: np.ndarray,
    *,
    neighbours: bool,
    steps: np.ndarray | None = None,
    base_predicted: np.ndarray | None = None,
) -> np.ndarray:
    """Signals (``NEIGHBOUR_SIGNALS`` or ``BASE_SIGNALS`` columns) of predictions ``predicted``
    (0..1) for feature rows ``x`` (``NEIGHBOUR_FEATURES`` columns; ``BASE_FEATURES`` suffice
    when ``neighbours`` is false). ``steps``: score steps in each row's scale
    (``max_points / score_step``); unknown (``None``), the boundary signal is 0.
    ``base_predicted``: with ``neighbours``, the base model's scores of the same rows (two
    models that read different evidence and disagree are a sign of a doubtful score)."""
    names = NEIGHBOUR_FEATURES if neighbours else BASE_FEATURES

    def column(name: str) -> np.ndarray:
        return np.asarray(x[:, names.index(name)], dtype=np.float64)

    p = np.clip(np.asarray(predicted, dtype=np.float64), 0.0, 1.0)
    similarity = (column("similarity") + column("char_similarity")) / 2
    estimates = [p, column("keyword_coverage"), similarity]
    if neighbours:
        estimates.append(column("neighbour_mean"))
    stacked = np.clip(np.column_stack(estimates), 0.0, 1.0)
    boundary = np.zeros_like(p)
    if steps is not None:
        position = p * np.asarray(steps, dtype=np.float64)
        boundary = 1 - 2 * np.abs(position - np.floor(position) - 0.5)
    signals = [4 * p * (1 - p), boundary, np.ptp(stacked, axis=1)]
    if neighbours:
        graded = np.clip(column("graded_mean"), 0.0, 1.0)
        kinds = np.column_stack(
            [column("neighbour_mean"), column("neighbour_char_mean"), column("neighbour_top")]
        )
        # The nearest graded answer on the side of the scale the prediction is *not* on:
        # an answer close to both a good and a poor graded answer is ambiguous.
        other = np.where(
            p >= column("graded_mean"),
            column("neighbour_low_similarity"),
            column("neighbour_high_similarity"),
        )
        signals += [
            1 - np.clip(column("neighbour_similarity"), 0.0, 1.0),
            np.ptp(np.clip(kinds, 0.0, 1.0), axis=1),
            np.clip(other, 0.0, 1.0),
            4 * graded * (1 - graded),
            np.abs(p - np.clip(base_predicted, 0.0, 1.0))
            if base_predicted is not None
            else np.zeros_like(p),
        ]
    return np.column_stack(signals)


def out_of_fold(features: Sequence[str], x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Each row's score predicted by a ``LinearIsotonicModel`` fitted without its fold, or
    ``None`` when the folds would be too small. Folds are shuffled with a fixed seed, so the
    same rows always give the same profile."""
    if len(y) < _MIN_ROWS:
        return None
    predicted = np.empty(len(y), dtype=np.float64)
    for train, test in KFold(FOLDS, shuffle=True, random_state=0).split(x):
        model = LinearIsotonicModel.fit(features, x[train], y[train])
        predicted[test] = model.predict(x[test])
    return predicted


@dataclass(frozen=True, slots=True)
class ErrorProfile:
    """Expected absolute error (0..1 of the maximum points) of a calibration's scores.

    ``base``/``neighbour``: error models for the calibration's base and neighbour score
    models; ``base_error``/``neighbour_error``: those score models' mean out-of-fold error.
    """

    base: LinearIsotonicModel
    neighbour: LinearIsotonicModel | None
    base_error: float
    neighbour_error: float | None

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
    ) -> ErrorProfile | None:
        """Fit on the rows a ``Calibration`` is fitted on (``x_neighbour``: only when it has a
        neighbour model), or ``None`` when there are too few rows for out-of-fold residuals.
        ``steps``/``steps_neighbour``: each row's score steps (see ``signal_rows``); given,
        the error learnt is that of the score rounded to its step, as the service reports it."""
        base = _fit_errors(BASE_FEATURES, x, y, neighbours=False, steps=steps)
        if base is None:
            return None
        neighbour = None
        if x_neighbour is not None and y_neighbour is not None:
            neighbour = _fit_errors(
                NEIGHBOUR_FEATURES, x_neighbour, y_neighbour, neighbours=True, steps=steps_neighbour
            )
        return cls(
            base=base[0],
            neighbour=neighbour[0] if neighbour else None,
            base_error=base[1],
            neighbour_error=neighbour[1] if neighbour else None,
        )

    def expected_error(
        self,
        predicted: float,
        row: np.ndarray,
        *,
        neighbours: bool,
        steps: float | None = None,
        base_predicted: float | None = None,
    ) -> float:
        """Expected absolute error, 0..1 of the maximum points, of the score ``predicted``
        (0..1) for one feature row (``NEIGHBOUR_FEATURES``) on a scale of ``steps`` score
        steps, read by the neighbour error model when ``neighbours`` (the neighbour score
        model made the prediction) and it exists; ``base_predicted``: then, the base score
        model's score of the same answer."""
        use_neighbour = neighbours and self.neighbour is not None
        model = self.neighbour if use_neighbour and self.neighbour is not None else self.base
        signals = signal_rows(
            np.asarray([predicted]),
            np.atleast_2d(row),
            neighbours=use_neighbour,
            steps=None if steps is None else np.asarray([steps]),
            base_predicted=None if base_predicted is None else np.asarray([base_predicted]),
        )
        value = float(model.predict(signals)[0])
        return min(1.0, max(0.0, value)) if math.isfinite(value) else 1.0

    def needs_review(self, expected: float, *, neighbours: bool) -> bool:
        """Whether an expected error is large for this calibration (``REVIEW_FACTOR``)."""
        typical = (
            self.neighbour_error
            if neighbours and self.neighbour is not None and self.neighbour_error is not None
            else self.base_error
        )
        return expected >= REVIEW_FACTOR * typical

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base.to_dict(),
            "neighbour": self.neighbour.to_dict() if self.neighbour else None,
            "base_error": self.base_error,
            "neighbour_error": self.neighbour_error,
        }

    @classmethod
    def from_dict(cls, data: Any, *, field: str = "error") -> ErrorProfile:
        """Restore and validate; problems raise ``CalibrationError`` naming the field."""
        if not isinstance(data, Mapping):
            raise CalibrationError("must be an object", field=field)
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise CalibrationError("unknown key", field=f"{field}.{unknown[0]}")
        base = LinearIsotonicModel.from_dict(
            data.get("base"), features=BASE_SIGNALS, field=f"{field}.base"
        )
        base_error = _error(data.get("base_error"), f"{field}.base_error")
        neighbour = None
        neighbour_error = None
        if data.get("neighbour") is not None:
            neighbour = LinearIsotonicModel.from_dict(
                data["neighbour"], features=NEIGHBOUR_SIGNALS, field=f"{field}.neighbour"
            )
            neighbour_error = _error(data.get("neighbour_error"), f"{field}.neighbour_error")
        return cls(base, neighbour, base_error, neighbour_error)


def _fit_errors(
    features: Sequence[str],
    x: np.ndarray,
    y: np.ndarray,
    *,
    neighbours: bool,
    steps: np.ndarray | None,
) -> tuple[LinearIsotonicModel, float] | None:
    """An error model and the mean out-of-fold error of a score model on these rows."""
    predicted = out_of_fold(features, x, y)
    if predicted is None:
        return None
    reported = predicted
    if steps is not None:
        # Rounded half up to the step, as ``engine.round_to_step`` rounds points.
        scale = np.asarray(steps, dtype=np.float64)
        reported = np.floor(np.round(predicted * scale, 9) + 0.5) / scale
    errors = np.abs(reported - y)
    base_predicted = None
    if neighbours:
        # The base model's out-of-fold scores of the same rows (same folds: same seed, size).
        base_predicted = out_of_fold(BASE_FEATURES, x[:, : len(BASE_FEATURES)], y)
    signals = signal_rows(
        predicted, x, neighbours=neighbours, steps=steps, base_predicted=base_predicted
    )
    model = LinearIsotonicModel.fit(
        NEIGHBOUR_SIGNALS if neighbours else BASE_SIGNALS, signals, errors
    )
    return model, float(errors.mean())


def _error(value: Any, field: str) -> float:
    number = _number(value, field)
    if not 0.0 <= number <= 1.0:
        raise CalibrationError("must be within 0..1", field=field)
    return number


def rule_confidence(
    raw: float, components: tuple[float, ...], neighbours: Neighbours | None, rubric: RubricSpec
) -> float:
    """How sure the score is, in 0..1, by rule: half from the agreement of independent
    estimates (the score, keyword coverage, similarity and, where there are any, the graded
    neighbours), half from the distance to the nearest rounding boundary (a score just
    beside one could easily have gone either way).
    """
    estimates = [raw, *components]
    if neighbours is not None:
        estimates.append(neighbours.mean)
    agreement = 1.0 - (max(estimates) - min(estimates))
    position = raw * rubric.max_points / rubric.score_step
    margin = 2 * abs(position - math.floor(position) - 0.5)
    return round(max(0.0, min(1.0, 0.5 * agreement + 0.5 * margin)), 4)


def fewshot_confidence(rule: float, error: float | None) -> float:
    """A few-shot calibration's confidence: the rule's, but never above one minus its
    pessimistic leave-one-out error ``error`` (``None``: stored before it was kept)."""
    if error is None:
        return rule
    return round(max(0.0, min(rule, 1.0 - error)), 4)


def pessimistic_error(errors: np.ndarray) -> float:
    """Mean absolute error plus one standard error: what a handful of leave-one-out errors
    say the error could be. Fewer or more scattered grades give a larger figure."""
    n = len(errors)
    if n == 0:
        return 1.0
    spread = float(errors.std(ddof=1)) if n > 1 else 1.0
    return min(1.0, float(errors.mean()) + spread / math.sqrt(n))
