"""The grader: compile a rubric once, then score answers with it.

``Grader(rubric)`` validates and fits everything that does not depend on the answer, so that
``grade(answer)`` is cheap, pure and deterministic: the same rubric and answer always give
the same ``ScoreBreakdown``, bit for bit.
"""

from __future__ import annotations

import math

from service.scoring.errors import RubricError
from service.scoring.keywords import (
    CompiledCriterion,
    CriterionMatch,
    compile_criterion,
    coverage,
    match_criterion,
)
from service.scoring.similarity import SimilarityScorer
from service.scoring.text import content_stems, content_tokens
from service.scoring.types import CriterionResult, RubricSpec, ScoreBreakdown

# Bump whenever any output of ``Grader.grade`` can change for the same rubric and answer:
# stored results carry it, so old and new scores can always be told apart.
ENGINE_VERSION = "1.0.0"

_WEIGHT_TOLERANCE = 1e-6


def similarity_to_unit(cosine: float) -> float:
    """Map TF-IDF cosine to the similarity component (reference -> 1, unrelated -> 0).

    Two independently written correct answers rarely share more than half their weighted
    vocabulary, so raw cosine punishes a faithful paraphrase far more than a teacher would.
    The square root is monotone, keeps both ends fixed and lifts the middle (0.25 -> 0.5).
    """
    return math.sqrt(min(1.0, max(0.0, cosine)))


def round_to_step(value: float, step: float) -> float:
    """Round half up to a multiple of ``step`` (0.5 steps: 7.25 -> 7.5, 7.24 -> 7.0).

    The value is first rounded to 9 decimals so that float noise (7.2499999999) cannot
    push a score that is exactly on a boundary down a step.
    """
    return math.floor(round(value / step, 9) + 0.5) * step


class Grader:
    """A compiled rubric. Construction raises ``RubricError`` for an unusable rubric."""

    def __init__(self, rubric: RubricSpec) -> None:
        _validate(rubric)
        self.rubric = rubric
        self.criteria: tuple[CompiledCriterion, ...] = tuple(
            compile_criterion(spec, field=f"criteria[{i}]")
            for i, spec in enumerate(rubric.criteria)
        )
        try:
            self.similarity = SimilarityScorer(demoted=content_stems(rubric.prompt)).fit(
                rubric.reference_answers, rubric.background
            )
        except ValueError as exc:
            raise RubricError("reference_answers", f"cannot build TF-IDF model: {exc}") from exc
        self._check_reference_covers_criteria()

    def grade(self, answer: str) -> ScoreBreakdown:
        tokens = content_tokens(answer)
        matches = [match_criterion(criterion, tokens, answer) for criterion in self.criteria]
        keyword_coverage = coverage(matches)
        similarity = similarity_to_unit(self.similarity.score(answer))
        rubric = self.rubric
        raw = rubric.keyword_weight * keyword_coverage + rubric.similarity_weight * similarity
        raw = min(1.0, max(0.0, raw))
        points = float(
            min(rubric.max_points, round_to_step(raw * rubric.max_points, rubric.score_step))
        )
        results = tuple(_criterion_result(match) for match in matches)
        return ScoreBreakdown(
            points=points,
            max_points=rubric.max_points,
            score=round(points / rubric.max_points, 4),
            raw=round(raw, 4),
            keyword_coverage=round(keyword_coverage, 4),
            similarity=round(similarity, 4),
            criteria=results,
            summary=_summary(results, points, rubric.max_points),
        )

    def _check_reference_covers_criteria(self) -> None:
        """The first reference answer must meet every criterion, or it could not score full
        marks: a criterion none of whose phrasings occurs in it is a rubric mistake."""
        reference = self.rubric.reference_answers[0]
        tokens = content_tokens(reference)
        for index, criterion in enumerate(self.criteria):
            if not match_criterion(criterion, tokens, reference).met:
                raise RubricError(
                    f"criteria[{index}].phrasings",
                    f"criterion {criterion.spec.id!r} is not covered by reference_answers[0]: "
                    "none of its phrasings occurs there, so the reference answer could not "
                    "score full marks",
                )


def _validate(rubric: RubricSpec) -> None:
    if not rubric.max_points > 0:
        raise RubricError("max_points", "must be greater than 0")
    if not 0 < rubric.score_step <= rubric.max_points:
        raise RubricError("score_step", "must be greater than 0 and at most max_points")
    if not math.isclose(
        rubric.max_points / rubric.score_step, round(rubric.max_points / rubric.score_step)
    ):
        raise RubricError("score_step", "max_points must be a whole number of steps")
    if rubric.keyword_weight < 0 or rubric.similarity_weight < 0:
        raise RubricError("weights", "weights must not be negative")
    if abs(rubric.keyword_weight + rubric.similarity_weight - 1) > _WEIGHT_TOLERANCE:
        raise RubricError("weights", "keywords and similarity must sum to 1")
    if not rubric.reference_answers or not all(r.strip() for r in rubric.reference_answers):
        raise RubricError(
            "reference_answers", "at least one non-empty reference answer is required"
        )
    if not rubric.criteria:
        raise RubricError("criteria", "at least one criterion is required")
    seen: set[str] = set()
    for index, criterion in enumerate(rubric.criteria):
        if criterion.id in seen:
            raise RubricError(f"criteria[{index}].id", f"duplicate criterion id {criterion.id!r}")
        seen.add(criterion.id)
        if not criterion.weight > 0:
            raise RubricError(f"criteria[{index}].weight", "must be greater than 0")


def _criterion_result(match: CriterionMatch) -> CriterionResult:
    spec = match.criterion.spec
    return CriterionResult(
        id=spec.id,
        description=spec.description,
        weight=spec.weight,
        met=match.met,
        matched_phrasing=match.phrasing.text if match.phrasing else None,
        spans=match.spans,
        feedback=spec.feedback_hit if match.met else spec.feedback_miss,
    )


def _summary(results: tuple[CriterionResult, ...], points: float, max_points: float) -> str:
    met = sum(result.met for result in results)
    total = len(results)
    head = f"You scored {points:g} out of {max_points:g} and covered {met} of {total} key ideas."
    if met == total:
        return head
    return f"{head} Read the feedback on the ideas you missed to see what to add."
