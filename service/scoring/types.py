"""Frozen inputs and outputs of the engine: plain data, safe to cache and share across threads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.scoring.advisories import Advisory


@dataclass(frozen=True, slots=True)
class CriterionSpec:
    """One idea a good answer covers, and the phrasings that count as covering it."""

    id: str
    description: str
    weight: float
    phrasings: tuple[str, ...]
    feedback_hit: str
    feedback_miss: str


@dataclass(frozen=True, slots=True)
class RubricSpec:
    """Everything the engine needs to grade answers to one question."""

    prompt: str
    max_points: float
    score_step: float
    reference_answers: tuple[str, ...]
    criteria: tuple[CriterionSpec, ...]
    keyword_weight: float
    similarity_weight: float
    # Domain text (e.g. the lesson the question is about) that the TF-IDF vocabulary and
    # document frequencies are fitted on, together with the reference answers.
    background: tuple[str, ...] = field(default_factory=tuple)
    # The language answers are expected in (ISO 639-1, e.g. "en", "fr"); None reads it from
    # the prompt and reference answers, English unless they clearly say otherwise.
    language: str | None = None


@dataclass(frozen=True, slots=True)
class GradedAnswer:
    """An answer an instructor has graded: a neighbour for new answers, and training data
    for a ``Calibration``. ``points`` is on the rubric's scale (0..max_points)."""

    answer: str
    points: float


@dataclass(frozen=True, slots=True)
class Span:
    """Characters ``start:end`` of the answer, and the text found there."""

    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class CriterionResult:
    id: str
    description: str
    weight: float
    met: bool
    # The rubric phrasing that matched first (None when not met) and where it matched.
    matched_phrasing: str | None
    spans: tuple[Span, ...]
    feedback: str

    @property
    def matched_words(self) -> tuple[str, ...]:
        return tuple(span.text for span in self.spans)


@dataclass(frozen=True, slots=True)
class ScoreBreakdown:
    """The result of grading one answer.

    ``points`` is rounded to the rubric's step; ``raw`` is the unrounded score in 0..1
    (the default blend, or the calibrated model's prediction), kept so that review can see
    how close a score was to a step.

    ``model`` says what produced the score: ``"default"`` (the rubric's keyword/similarity
    weights) or ``"calibrated"`` (a model fitted on instructor-graded answers).
    ``confidence`` (0..1) is high when the components agree and the score is far from a
    rounding boundary; below the review threshold ``needs_review`` is set.
    ``components`` lists every measured feature by name, for audit and calibration.
    ``neighbour_score`` is the similarity-weighted mean score (0..1) of the nearest
    instructor-graded answers, or ``None`` when the question has none.
    """

    points: float
    max_points: float
    score: float
    raw: float
    keyword_coverage: float
    similarity: float
    criteria: tuple[CriterionResult, ...]
    summary: str
    model: str = "default"
    confidence: float = 1.0
    needs_review: bool = False
    neighbour_score: float | None = None
    components: tuple[tuple[str, float], ...] = ()
    # Signs of gaming or of an answer the grader cannot judge (see ``advisories``); their
    # caps are already applied to ``points``.
    advisories: tuple[Advisory, ...] = ()
