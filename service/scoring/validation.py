"""Rubric checks: the documented limits and the rules a rubric must keep to be compiled.

Run before anything is compiled, so that no rubric makes compiling or grading take
unbounded time, and every mistake is a ``RubricError`` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from service.scoring import limits
from service.scoring.errors import RubricError
from service.scoring.keywords import CompiledCriterion, match_criterion
from service.scoring.text import content_tokens, tokenize
from service.scoring.types import GradedAnswer, RubricSpec

# How far keywords + similarity weights may be from summing to 1 (float noise in YAML).
_WEIGHT_TOLERANCE = 1e-6


def validate_rubric(rubric: RubricSpec, graded: Sequence[GradedAnswer] = ()) -> None:
    """Raise ``RubricError`` naming the field for a rubric that cannot be compiled: over a
    limit, an impossible scale or weights, no reference answer (and no graded answers), a
    duplicate criterion id or a weight that is not positive."""
    _validate_limits(rubric, graded)
    if not (math.isfinite(rubric.max_points) and rubric.max_points > 0):
        raise RubricError("max_points", "must be greater than 0")
    if not (
        0 < rubric.score_step <= rubric.max_points
        and math.isfinite(rubric.max_points / rubric.score_step)
    ):
        raise RubricError("score_step", "must be greater than 0 and at most max_points")
    if not math.isclose(
        rubric.max_points / rubric.score_step, round(rubric.max_points / rubric.score_step)
    ):
        raise RubricError("score_step", "max_points must be a whole number of steps")
    if rubric.keyword_weight < 0 or rubric.similarity_weight < 0:
        raise RubricError("weights", "weights must not be negative")
    if abs(rubric.keyword_weight + rubric.similarity_weight - 1) > _WEIGHT_TOLERANCE:
        raise RubricError("weights", "keywords and similarity must sum to 1")
    if not all(r.strip() for r in rubric.reference_answers) or not (
        rubric.reference_answers or graded
    ):
        raise RubricError(
            "reference_answers",
            "at least one non-empty reference answer is required (or graded answers)",
        )
    seen: set[str] = set()
    for index, criterion in enumerate(rubric.criteria):
        if criterion.id in seen:
            raise RubricError(f"criteria[{index}].id", f"duplicate criterion id {criterion.id!r}")
        seen.add(criterion.id)
        if not (math.isfinite(criterion.weight) and criterion.weight > 0):
            raise RubricError(f"criteria[{index}].weight", "must be greater than 0")


def _too_long(field: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise RubricError(field, f"{len(text)} characters; at most {limit} are allowed")


def _too_many(field: str, items: Sequence[object], limit: int, what: str) -> None:
    if len(items) > limit:
        raise RubricError(field, f"{len(items)} {what}; at most {limit} are allowed")


def _validate_limits(rubric: RubricSpec, graded: Sequence[GradedAnswer]) -> None:
    """The documented limits (``service.scoring.limits``), checked before anything is
    compiled, so that no rubric makes compiling or grading take unbounded time."""
    _too_long("prompt", rubric.prompt, limits.MAX_PROMPT_CHARS)
    _too_many(
        "reference_answers", rubric.reference_answers, limits.MAX_REFERENCE_ANSWERS, "answers"
    )
    for index, reference in enumerate(rubric.reference_answers):
        _too_long(f"reference_answers[{index}]", reference, limits.MAX_REFERENCE_CHARS)
    background = sum(map(len, rubric.background)) + max(0, len(rubric.background) - 1)
    if background > limits.MAX_BACKGROUND_CHARS:
        raise RubricError(
            "background",
            f"{background} characters; at most {limits.MAX_BACKGROUND_CHARS} are allowed",
        )
    _too_many("criteria", rubric.criteria, limits.MAX_CRITERIA, "criteria")
    for index, criterion in enumerate(rubric.criteria):
        field = f"criteria[{index}]"
        _too_long(f"{field}.description", criterion.description, limits.MAX_DESCRIPTION_CHARS)
        _too_long(f"{field}.feedback.hit", criterion.feedback_hit, limits.MAX_FEEDBACK_CHARS)
        _too_long(f"{field}.feedback.miss", criterion.feedback_miss, limits.MAX_FEEDBACK_CHARS)
        _too_many(
            f"{field}.phrasings",
            criterion.phrasings,
            limits.MAX_PHRASINGS_PER_CRITERION,
            "phrasings",
        )
        for number, phrasing in enumerate(criterion.phrasings):
            _too_long(f"{field}.phrasings[{number}]", phrasing, limits.MAX_PHRASING_CHARS)
            words = len(tokenize(phrasing))
            if words > limits.MAX_PHRASING_WORDS:
                raise RubricError(
                    f"{field}.phrasings[{number}]",
                    f"{words} words; at most {limits.MAX_PHRASING_WORDS} are allowed",
                )
    _too_many("graded_answers", graded, limits.MAX_GRADED_ANSWERS, "graded answers")
    total = 0
    for index, answer in enumerate(graded):
        _too_long(f"graded_answers[{index}].answer", answer.answer, limits.MAX_GRADED_ANSWER_CHARS)
        if not (math.isfinite(answer.points) and 0 <= answer.points <= rubric.max_points):
            raise RubricError(f"graded_answers[{index}].points", "must be within 0..max_points")
        total += len(answer.answer)
    if total > limits.MAX_GRADED_TOTAL_CHARS:
        raise RubricError(
            "graded_answers",
            f"{total} characters in all; at most {limits.MAX_GRADED_TOTAL_CHARS} are allowed",
        )


def check_reference_covers_criteria(reference: str, criteria: Sequence[CompiledCriterion]) -> None:
    """The first reference answer must meet every criterion, or it could not score full
    marks: a criterion none of whose phrasings occurs in it is a rubric mistake."""
    tokens = content_tokens(reference)
    for index, criterion in enumerate(criteria):
        if not match_criterion(criterion, tokens, reference).met:
            raise RubricError(
                f"criteria[{index}].phrasings",
                f"criterion {criterion.spec.id!r} is not covered by reference_answers[0]: "
                "none of its phrasings occurs there, so the reference answer could not "
                "score full marks",
            )
