"""Pure scoring engine: keyword coverage of rubric criteria plus TF-IDF similarity.

No web, database, settings or file access here (enforced by ``ruff.toml`` beside this file),
so the same code scores a live request, a rescoring job and an offline evaluation.
"""

from service.scoring.engine import ENGINE_VERSION, Grader
from service.scoring.errors import RubricError, ScoringError
from service.scoring.types import (
    CriterionResult,
    CriterionSpec,
    RubricSpec,
    ScoreBreakdown,
    Span,
)

__all__ = [
    "ENGINE_VERSION",
    "CriterionResult",
    "CriterionSpec",
    "Grader",
    "RubricError",
    "RubricSpec",
    "ScoreBreakdown",
    "ScoringError",
    "Span",
]
