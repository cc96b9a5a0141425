"""The pilot: which answer a teacher should grade next, and how far machine and teacher agree.

A question without graded answers is calibrated from a handful of teacher grades (see
``MIN_TO_CALIBRATE``). Which handful matters: a calibration maps the machine score onto the
teacher's scale, so the grades should (1) be spread over the machine scores *as the answers
are* (a map fitted on the extremes alone misplaces the pass mark, which sits where most
answers are), (2) cover the answer groups and favour answers the engine is unsure of, and
(3) once a few grades are in, go where machine and teacher disagree (that is where the map
still moves). ``next_to_grade`` first picks the stratum: the machine-score quantile that a
low-discrepancy (van der Corput) sequence visits next (1/2, 1/4, 3/4, 1/8, ...), so after any
number of grades they are spread over the quantiles like a stratified sample; then, among the
answers of that stratum, the one with the best coverage gain (terms 2 and 3). Where the
candidates carry their texts, "like" in that coverage also means *textually* like: the
calibrated question blends in the scores of graded answers found by text similarity, so a
grade helps most the answers that read like it. It is deterministic (ties broken by a seeded
order, never by a random draw).

``agreement`` summarises the grades so far: Pearson r (scores) or exact accuracy (labels),
with an interval, and whether agreement is *established* (the rule is ``_established``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats
from sklearn.feature_extraction.text import TfidfVectorizer

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
# Share of the ungraded answers (by machine-score rank) that make up the stratum the next
# grade is chosen from: a tenth, the width of one stratum when a pilot of about ten grades
# (the few-shot range) spreads them over the quantiles.
STRATUM_SHARE = 0.1
# Most candidates one call ranks (the work grows with candidates x candidates).
MAX_CANDIDATES = 5000


@dataclass(frozen=True)
class Candidate:
    """An answer the teacher could grade next.

    ``index``: the caller's index (e.g. position in its list of submissions); ``machine``: the
    machine score as a fraction of max points (0..1); ``confidence``: the engine's confidence
    (0..1); ``group``: the answer-group label if known, else ``None``; ``features``: optional
    numbers (criterion hits etc.) that tell answers apart for diversity; ``text``: the answer
    itself (optional; when every candidate has one, text similarity counts in the diversity).
    """

    index: int
    machine: float
    confidence: float
    group: int | None
    features: Sequence[float] = ()
    text: str = ""


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
    # Only the stratum's candidates can be chosen, so only their gains are computed.
    stratum = np.flatnonzero(_in_stratum(pool, done))
    scores = np.full(len(pool), -np.inf)
    scores[stratum] = _priority(pool, done, graded, stratum)
    # Ties (e.g. identical answers) broken by a seeded order, so equal inputs stay equal.
    order = np.random.default_rng(seed).permutation(len(pool))
    best = max(range(len(pool)), key=lambda i: (round(float(scores[i]), 9), -int(order[i])))
    return pool[best].index


def _in_stratum(pool: Sequence[Candidate], done: Sequence[Candidate]) -> np.ndarray:
    """Which ungraded candidates are in the stratum the next grade should come from.

    The target is the ``len(done)``-th van der Corput point ``q`` (a quantile in 0..1); the
    stratum is the ``STRATUM_SHARE`` of ungraded answers whose machine-score rank among all
    candidates is nearest ``q`` (at least one).
    """
    machine = np.array([c.machine for c in [*pool, *done]], dtype=np.float64)
    # Equal machine scores share a rank: the stratum never splits answers the machine ties.
    ranks = (stats.rankdata(machine, method="average") - 1) / max(1, len(machine) - 1)
    distance = np.abs(ranks[: len(pool)] - _van_der_corput(len(done)))
    return np.asarray(distance <= np.quantile(distance, STRATUM_SHARE), dtype=bool)


def _van_der_corput(n: int) -> float:
    """The ``n``-th point (from 0) of the base-2 van der Corput sequence, shifted by one so
    that it starts at the median: 1/2, 1/4, 3/4, 1/8, 5/8, ..."""
    n += 1
    point, denominator = 0.0, 1.0
    while n:
        denominator *= 2
        n, bit = divmod(n, 2)
        point += bit / denominator
    return point


def _positions(items: Sequence[Candidate]) -> np.ndarray:
    """Each candidate as a point: its machine score, then its features (if all have them)."""
    width = min((len(c.features) for c in items), default=0)
    rows = [[_unit(c.machine), *(_unit(v) for v in c.features[:width])] for c in items]
    points = np.asarray(rows, dtype=np.float64).reshape(len(items), 1 + width)
    # The machine score is what a calibration maps: let it weigh as much as all features.
    if width:
        points[:, 1:] /= width
    return points


def _priority(
    pool: Sequence[Candidate],
    done: Sequence[Candidate],
    graded: Mapping[int, float],
    among: np.ndarray,
) -> np.ndarray:
    """Higher is more useful to grade next: the gain in weighted coverage of all answers,
    for the pool candidates at the indices ``among`` (in that order).

    Coverage is the facility-location objective ``sum_i w_i * max_{g graded} sim(i, g)``:
    every answer should have a graded answer like it (a calibration learns the teacher's
    scale where there are grades, and graded neighbours score the answers near them).
    Greedy maximisation of this submodular function is within 1 - 1/e of the best set of
    that size, and it favours dense regions (a grade there covers many answers) while
    spreading out (a covered region gains nothing more). ``sim`` is a Gaussian kernel on the
    machine score and features, bandwidth the median distance (no constant to tune), and 1
    within an answer group (a grade covers its group). With texts, ``sim`` is the mean of that
    kernel and the TF-IDF cosine of the texts (see ``_text_vectors``): the calibration maps
    the machine score *and* blends in the graded answers most similar in text, so a grade
    covers an answer as far as it is near on both; equal weights, as neither is known to
    matter more. The weights ``w_i`` put more on answers the engine is unsure of, and on
    answers near graded ones where machine and teacher disagreed (that is where the map still
    moves).
    """
    everyone = [*pool, *done]
    points = _Points(_positions(everyone), _text_vectors(everyone))
    width = _bandwidth(points.machine)
    groups = np.array([-1 if c.group is None else c.group for c in everyone])
    uncertainty = np.array([1.0 - _unit(c.confidence) for c in everyone])
    weights = 1.0 + uncertainty
    best = np.zeros(len(everyone))  # each answer's similarity to its most similar graded one
    if done:
        done_points = points.rows(len(pool), len(everyone))
        done_groups = groups[len(pool) :]
        residual = np.array([graded[c.index] - _unit(c.machine) for c in done])
        near = np.concatenate(
            [
                _similarity(chunk, done_points, g, done_groups, width)
                for chunk, g in zip(points.chunks(len(everyone)), _chunks(groups), strict=True)
            ]
        )
        best = near.max(axis=1)
        total = near.sum(axis=1)
        local = np.abs(near @ residual) / np.maximum(total, 1e-9)
        weights = weights + np.where(total > 1e-9, local, 0.0)
    wanted = points.take(among)
    gains = [
        (np.maximum(_similarity(chunk, points, g, groups, width) - best[None, :], 0.0) @ weights)
        for chunk, g in zip(wanted.chunks(len(among)), _chunks(groups[among]), strict=True)
    ]
    return np.asarray(np.concatenate(gains), dtype=np.float64)


@dataclass(frozen=True)
class _Points:
    """Candidates as points: ``machine`` (machine score and features, one row each) and,
    if every candidate has a text, ``text`` (their L2-normalised TF-IDF rows)."""

    machine: np.ndarray
    text: sparse.csr_matrix | None

    def rows(self, start: int, stop: int) -> _Points:
        text = self.text[start:stop] if self.text is not None else None
        return _Points(self.machine[start:stop], text)

    def take(self, indices: np.ndarray) -> _Points:
        text = self.text[indices] if self.text is not None else None
        return _Points(self.machine[indices], text)

    def chunks(self, stop: int, size: int = 256) -> list[_Points]:
        """Row blocks of the first ``stop`` points (pairwise arrays stay size x all)."""
        return [self.rows(i, min(i + size, stop)) for i in range(0, stop, size)] or [
            self.rows(0, 0)
        ]


def _text_vectors(items: Sequence[Candidate]) -> sparse.csr_matrix | None:
    """TF-IDF rows (sublinear term frequency, L2-normalised, so a product is the cosine) of
    the candidates' texts, the vocabulary fitted on those texts; ``None`` unless every
    candidate has a text with at least one word."""
    texts = [c.text for c in items]
    if not texts or not all(t.strip() for t in texts):
        return None
    try:
        matrix = TfidfVectorizer(sublinear_tf=True, dtype=np.float64).fit_transform(texts)
    except ValueError:  # no word anywhere (e.g. only punctuation): text says nothing
        return None
    return sparse.csr_matrix(matrix)


def _bandwidth(points: np.ndarray) -> float:
    """Median city-block distance between (up to 500 of) the points; 1 if all coincide."""
    sample = points[:500]
    distances = _l1(sample, sample)[np.triu_indices(len(sample), k=1)]
    positive = distances[distances > 1e-12]
    return float(np.median(positive)) if positive.size else 1.0


def _similarity(
    a: _Points, b: _Points, a_groups: np.ndarray, b_groups: np.ndarray, width: float
) -> np.ndarray:
    """Gaussian-kernel similarity of the points ``a`` and ``b``, averaged with their text
    cosine when both have texts; 1 within a known group."""
    kernel = np.exp(-((_l1(a.machine, b.machine) / width) ** 2))
    if a.text is not None and b.text is not None:
        cosine = np.asarray((a.text @ b.text.T).toarray(), dtype=np.float64)
        kernel = (kernel + np.clip(cosine, 0.0, 1.0)) / 2
    same = (a_groups[:, None] == b_groups[None, :]) & (a_groups[:, None] >= 0)
    return np.asarray(np.where(same, 1.0, kernel), dtype=np.float64)


def _l1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """City-block distances between the rows of ``a`` and of ``b``."""
    return np.asarray(np.abs(a[:, None, :] - b[None, :, :]).sum(axis=2), dtype=np.float64)


def _chunks(values: np.ndarray, size: int = 256) -> list[np.ndarray]:
    """Row blocks, so that pairwise arrays stay small (size x all candidates)."""
    return [values[i : i + size] for i in range(0, len(values), size)] or [values]


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
