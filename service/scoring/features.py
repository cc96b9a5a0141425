"""The features of an answer: what a calibration model reads, by name and in order.

``Grader`` measures an answer (criterion matches, TF-IDF similarities, graded neighbours)
and turns the measurements into a feature dict with the functions here; ``Calibration``
fits and predicts on rows of these features. Both import the names from this module, so
neither needs the other to know what a row holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from service.scoring.similarity import Neighbours
from service.scoring.text import Token, is_negator

# Question-independent components, the inputs of a calibration model (all roughly 0..1).
BASE_FEATURES: tuple[str, ...] = (
    "keyword_coverage",  # weighted share of the rubric's criteria met
    "term_coverage",  # weighted share of the best-covered reference answer's key words
    "similarity",  # word TF-IDF similarity to the nearest reference (square-root scale)
    "char_similarity",  # character n-gram TF-IDF similarity to the nearest reference
    "length_ratio",  # log ratio of content words, answer vs. mean reference (clipped)
    "precision",  # share of the answer's words found in the question's material
    "question_overlap",  # share of the answer's words that only repeat the prompt
)
# Read only where the question has graded answers of its own. This is the list of engine
# 2.3 (a neighbour model stored then was fitted on exactly these columns, and keeps being
# given exactly these); ``NEIGHBOUR_FEATURES`` extends it.
NEIGHBOUR_FEATURES_2_3: tuple[str, ...] = (
    *BASE_FEATURES,
    "neighbour_mean",  # similarity-weighted mean score of the nearest graded answers
    "neighbour_top",  # score of the nearest graded answer
    "neighbour_similarity",  # similarity to it
    "neighbour_char_mean",  # like neighbour_mean, with character n-gram similarity
    "neighbour_high_similarity",  # similarity to the nearest above-average graded answer
    "neighbour_low_similarity",  # similarity to the nearest below-average graded answer
    "graded_mean",  # mean score of the question's graded answers
    "similarity_percentile",  # rank of the similarity among the graded answers'
    "coverage_percentile",  # rank of the term coverage among the graded answers'
)
# What a neighbour model fitted now reads.
NEIGHBOUR_FEATURES: tuple[str, ...] = (
    *NEIGHBOUR_FEATURES_2_3,
    "neighbour_kernel",  # the question's kernel ridge estimate over all its graded answers
    "neighbour_kernel_words",  # the same on word similarity alone (negated stems marked)
    "neighbour_kernel_chars",  # the same on character n-gram similarity alone
    # Alignment with the nearest reference answer: TF-IDF ignores "not" (a stop word), so
    # "the bulb is not in a closed path" looks like the reference "... is in a closed path".
    "negation_mismatch",  # 1 if exactly one of answer and reference contains a negation
    "polarity_flips",  # share of the shared content words negated in one but not the other
    "negation_difference",  # difference in negation words, answer vs. reference (0..1)
)
# Every neighbour feature list a stored calibration may have been fitted on.
NEIGHBOUR_FEATURE_VERSIONS: tuple[tuple[str, ...], ...] = (
    NEIGHBOUR_FEATURES,
    NEIGHBOUR_FEATURES_2_3,
)
# The neighbour features alone (zero where a question has too few graded answers).
_NEIGHBOUR_ONLY = NEIGHBOUR_FEATURES[len(BASE_FEATURES) :]
# A question needs this many graded answers before its neighbours are trusted.
MIN_NEIGHBOURS = 5


def similarity_to_unit(cosine: float) -> float:
    """Map TF-IDF cosine to the similarity component (reference -> 1, unrelated -> 0).

    Two independently written correct answers rarely share more than half their weighted
    vocabulary, so raw cosine punishes a faithful paraphrase far more than a teacher would.
    The square root is monotone, keeps both ends fixed and lifts the middle (0.25 -> 0.5).
    """
    return math.sqrt(min(1.0, max(0.0, cosine)))


def base_features(
    *,
    keyword_coverage: float,
    term_coverage: float,
    similarity: float,
    char_similarity: float,
    stems: Sequence[str],
    known: frozenset[str],
    demoted: frozenset[str],
    reference_length: float,
) -> dict[str, float]:
    """The ``BASE_FEATURES`` of one answer. ``stems``: its content stems (spelling
    corrected); ``known``: the stems of the question's material; ``demoted``: the prompt's;
    ``reference_length``: mean content words of the references (0 if there are none)."""
    n = len(stems)
    own = [s for s in stems if s not in demoted]
    return {
        "keyword_coverage": keyword_coverage,
        "term_coverage": term_coverage,
        "similarity": similarity,
        "char_similarity": char_similarity,
        "length_ratio": (
            max(-3.0, min(3.0, math.log1p(n) - math.log1p(reference_length)))
            if reference_length
            else 0.0
        ),
        "precision": sum(map(known.__contains__, own)) / len(own) if own else 0.0,
        "question_overlap": (n - len(own)) / n if n else 0.0,
    }


@dataclass(frozen=True, slots=True)
class Polarity:
    """What the alignment features read of a text: its negation words and which content
    stems it has, plain or negated (a stem counts as negated if any occurrence is)."""

    negations: int
    stems: frozenset[str]
    negated: frozenset[str]

    @classmethod
    def of(cls, tokens: Sequence[Token]) -> Polarity:
        content = [t for t in tokens if not t.is_stop]
        return cls(
            negations=sum(is_negator(t.text) for t in tokens),
            stems=frozenset(t.stem for t in content),
            negated=frozenset(t.stem for t in content if t.negated),
        )


def alignment_features(answer: Polarity, reference: Polarity) -> dict[str, float]:
    """Negation of the answer against its nearest reference answer (all 0..1)."""
    shared = answer.stems & reference.stems
    flips = len(shared & (answer.negated ^ reference.negated))
    return {
        "negation_mismatch": float((answer.negations > 0) != (reference.negations > 0)),
        "polarity_flips": flips / len(shared) if shared else 0.0,
        # Halved and capped: one extra "not" is the usual contradiction, two saturate it.
        "negation_difference": min(1.0, abs(answer.negations - reference.negations) / 2),
    }


def neighbour_features(
    neighbours: Neighbours,
    *,
    graded_mean: float,
    similarity_percentile: float,
    coverage_percentile: float,
    alignment: Mapping[str, float],
) -> dict[str, float]:
    """The neighbour features (``NEIGHBOUR_FEATURES`` after the base ones) of one answer;
    ``alignment``: its ``alignment_features`` (all zero for a question without references)."""
    return {
        "neighbour_mean": neighbours.mean,
        "neighbour_top": neighbours.top,
        "neighbour_similarity": neighbours.similarity,
        "neighbour_char_mean": neighbours.char_mean,
        "neighbour_high_similarity": neighbours.high_similarity,
        "neighbour_low_similarity": neighbours.low_similarity,
        "graded_mean": graded_mean,
        "similarity_percentile": similarity_percentile,
        "coverage_percentile": coverage_percentile,
        "neighbour_kernel": neighbours.kernel,
        "neighbour_kernel_words": neighbours.kernel_words,
        "neighbour_kernel_chars": neighbours.kernel_chars,
        **alignment,
    }


NO_ALIGNMENT: dict[str, float] = {
    "negation_mismatch": 0.0,
    "polarity_flips": 0.0,
    "negation_difference": 0.0,
}


def no_neighbour_features() -> dict[str, float]:
    """The neighbour features of a question with too few graded answers: all zero."""
    return dict.fromkeys(_NEIGHBOUR_ONLY, 0.0)


def percentile(sorted_values: np.ndarray, value: float) -> float:
    """Mid-rank of ``value`` among ``sorted_values``, in 0..1."""
    if sorted_values.size == 0:
        return 0.0
    low = np.searchsorted(sorted_values, value, side="left")
    high = np.searchsorted(sorted_values, value, side="right")
    return float((low + high) / 2 / sorted_values.size)


def feature_rows(
    features: Sequence[Mapping[str, float]], names: Sequence[str] = NEIGHBOUR_FEATURES
) -> np.ndarray:
    """A 2-D array, one row per feature dict, columns in ``names`` order (0 rows allowed)."""
    return np.array([[row[name] for name in names] for row in features]).reshape(
        len(features), len(names)
    )
