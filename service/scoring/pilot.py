"""The pilot: which answer a teacher should grade next, and how far machine and teacher agree.

A question without graded answers is calibrated from a handful of teacher grades (see
``MIN_TO_CALIBRATE``). Which handful matters: a calibration maps the machine score onto the
teacher's scale, so the grades should (1) cover the range of machine scores and the answer
groups, not cluster where most answers are, (2) favour answers the engine is unsure of, and
(3) once a few grades are in, go where machine and teacher disagree (that is where the map
still moves). ``next_to_grade`` scores every ungraded candidate on these three terms and
returns the best; it is deterministic (ties broken by a seeded order, never by a random draw).

``agreement`` summarises the grades so far: Pearson r (scores) or exact accuracy (labels),
with an interval, and whether agreement is *established* (the rule is ``_established``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

# Fewest teacher grades a few-shot calibration accepts (below it a map would be noise).
MIN_TO_CALIBRATE = 5
# Fewest pairs an agreement figure (value and interval) is given for.
MIN_FOR_AGREEMENT = 3
# Two-sided level of the agreement interval.
INTERVAL_LEVEL = 0.90
# Agreement is established when the interval's lower end clears these floors (see
# ``_established``): a correlation of 0.5 is what instructors grading the same short answers
# commonly reach with each other at the low end; 0.6 exact agreement on labels likewise.
PEARSON_FLOOR = 0.5
ACCURACY_FLOOR = 0.6
# Most candidates one call ranks (the work grows with candidates x candidates).
MAX_CANDIDATES = 5000


@dataclass(frozen=True)
class Candidate:
    """An answer the teacher could grade next.

    ``index``: the caller's index (e.g. position in its list of submissions); ``machine``: the
    machine score as a fraction of max points (0..1); ``confidence``: the engine's confidence
    (0..1); ``group``: the answer-group label if known, else ``None``; ``features``: optional
    numbers (criterion hits etc.) that tell answers apart for diversity.
    """

    index: int
    machine: float
    confidence: float
    group: int | None
    features: Sequence[float] = ()


@dataclass(frozen=True)
class Agreement:
    """Agreement between machine and teacher on the answers the teacher graded.

    ``metric`` is ``"pearson"`` (scores) or ``"accuracy"`` (labels); ``value``, ``low`` and
    ``high`` are ``None`` when ``n`` is too small to say; ``mean_abs_error`` is in fractions of
    max points.
    """

    n: int
    metric: str
    value: float | None
    low: float | None
    high: float | None
    mean_abs_error: float | None
    established: bool


def next_to_grade(
    candidates: Sequence[Candidate], graded: Mapping[int, float], *, seed: int = 0
) -> int | None:
    """The index of the candidate to grade next, or ``None`` when every one is graded.

    ``graded`` maps a candidate index to the teacher's grade as a fraction 0..1. The same input
    always gives the same answer; ``seed`` only changes how exact ties are broken.
    """
    if len(candidates) > MAX_CANDIDATES:
        raise ValueError(f"at most {MAX_CANDIDATES} candidates")
    pool = [c for c in candidates if c.index not in graded]
    if not pool:
        return None
    done = [c for c in candidates if c.index in graded]
    scores = _priority(pool, done, graded)
    # Ties (e.g. identical answers) broken by a seeded order, so equal inputs stay equal.
    order = np.random.default_rng(seed).permutation(len(pool))
    best = max(range(len(pool)), key=lambda i: (round(float(scores[i]), 9), -int(order[i])))
    return pool[best].index


def _positions(items: Sequence[Candidate]) -> np.ndarray:
    """Each candidate as a point: its machine score, then its features (if all have them)."""
    width = min((len(c.features) for c in items), default=0)
    rows = [[_unit(c.machine), *(_unit(v) for v in c.features[:width])] for c in items]
    points = np.asarray(rows, dtype=np.float64).reshape(len(items), 1 + width)
    # The machine score is what a calibration maps: let it weigh as much as all features.
    if width:
        points[:, 1:] /= math.sqrt(width)
    return points


def _priority(
    pool: Sequence[Candidate], done: Sequence[Candidate], graded: Mapping[int, float]
) -> np.ndarray:
    """Higher is more useful to grade next (see the module docstring for the three terms)."""
    everyone = [*pool, *done]
    points = _positions(everyone)
    pool_points, done_points = points[: len(pool)], points[len(pool) :]
    # Representativeness: how many answers sit near this one (a grade tells about them too).
    density = _kernel_sums(pool_points, points, 0.1)
    density = density / density.max()
    # Coverage: distance to the nearest graded answer (1 when nothing is graded yet).
    if len(done):
        gap = np.concatenate(
            [_l1(chunk, done_points).min(axis=1) for chunk in _chunks(pool_points)]
        )
        coverage = np.clip(gap, 0.0, 1.0)
    else:
        coverage = np.ones(len(pool))
    uncertainty = np.array([1.0 - _unit(c.confidence) for c in pool])
    # Disagreement so far near this answer: where the machine is off, the map still moves.
    disagreement = np.zeros(len(pool))
    if len(done):
        residual = np.array([graded[c.index] - _unit(c.machine) for c in done])
        weights = np.exp(-((_l1(pool_points, done_points) / 0.15) ** 2))
        total = weights.sum(axis=1)
        disagreement = np.where(
            total > 1e-9, np.abs(weights @ residual) / np.maximum(total, 1e-9), 0.0
        )
    # Groups: an answer from a group nobody graded yet stands for that whole group.
    group_bonus = np.zeros(len(pool))
    graded_groups = {c.group for c in done if c.group is not None}
    sizes: dict[int, int] = {}
    for c in everyone:
        if c.group is not None:
            sizes[c.group] = sizes.get(c.group, 0) + 1
    if sizes:
        largest = max(sizes.values())
        for i, c in enumerate(pool):
            if c.group is not None and c.group not in graded_groups:
                group_bonus[i] = sizes[c.group] / largest
    return np.asarray(
        coverage * (0.5 + 0.5 * density) + 0.5 * uncertainty + disagreement + group_bonus,
        dtype=np.float64,
    )


def _l1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """City-block distances between the rows of ``a`` and of ``b``."""
    return np.asarray(np.abs(a[:, None, :] - b[None, :, :]).sum(axis=2), dtype=np.float64)


def _chunks(points: np.ndarray, size: int = 256) -> list[np.ndarray]:
    """Row blocks, so that pairwise arrays stay small (size x all candidates)."""
    return [points[i : i + size] for i in range(0, len(points), size)] or [points]


def _kernel_sums(a: np.ndarray, b: np.ndarray, width: float) -> np.ndarray:
    """For each row of ``a``, the Gaussian-kernel weight of all rows of ``b`` around it."""
    return np.concatenate(
        [np.exp(-((_l1(chunk, b) / width) ** 2)).sum(axis=1) for chunk in _chunks(a)]
    )


def agreement(
    machine: Sequence[float], teacher: Sequence[float], *, labels: bool = False
) -> Agreement:
    """Agreement of machine and teacher scores (fractions 0..1 of the same answers).

    ``labels``: the scores stand for labels (e.g. 0, 0.5, 1 for incorrect/partial/correct):
    exact accuracy with a Wilson interval. Otherwise Pearson r with a Fisher-z interval.
    """
    if len(machine) != len(teacher):
        raise ValueError("machine and teacher must score the same answers")
    m = np.asarray([_unit(v) for v in machine], dtype=np.float64)
    t = np.asarray([_unit(v) for v in teacher], dtype=np.float64)
    n = len(m)
    metric = "accuracy" if labels else "pearson"
    mae = float(np.abs(m - t).mean()) if n else None
    if n < MIN_FOR_AGREEMENT:
        return Agreement(n, metric, None, None, None, mae, False)
    if labels:
        hits = int(np.sum(np.isclose(m, t, atol=1e-6)))
        value = hits / n
        low: float | None
        high: float | None
        low, high = _wilson(hits, n)
    else:
        if np.ptp(m) < 1e-12 or np.ptp(t) < 1e-12:
            # A constant side has no correlation to speak of.
            return Agreement(n, metric, None, None, None, mae, False)
        value = float(stats.pearsonr(m, t).statistic)
        low, high = _fisher(value, n)
    return Agreement(n, metric, value, low, high, mae, _established(n, metric, low))


def _established(n: int, metric: str, low: float | None) -> bool:
    """Agreement is established when at least ``MIN_TO_CALIBRATE`` answers are graded and the
    interval's lower end clears the floor: agreement is then good with 95% (one-sided)
    confidence, not merely a lucky point estimate."""
    if low is None or n < MIN_TO_CALIBRATE:
        return False
    return low >= (ACCURACY_FLOOR if metric == "accuracy" else PEARSON_FLOOR)


def _fisher(r: float, n: int) -> tuple[float | None, float | None]:
    """Fisher-z interval for a correlation (needs n > 3)."""
    if n <= 3:
        return None, None
    z = math.atanh(max(-0.999999, min(0.999999, r)))
    half = float(stats.norm.ppf(0.5 + INTERVAL_LEVEL / 2)) / math.sqrt(n - 3)
    return math.tanh(z - half), math.tanh(z + half)


def _wilson(hits: int, n: int) -> tuple[float, float]:
    """Wilson score interval for a proportion."""
    z = float(stats.norm.ppf(0.5 + INTERVAL_LEVEL / 2))
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _unit(value: float) -> float:
    """A finite number clipped to 0..1 (non-finite input counts as 0)."""
    number = float(value)
    if not math.isfinite(number):
        return 0.0
    return min(1.0, max(0.0, number))
