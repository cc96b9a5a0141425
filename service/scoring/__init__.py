"""Pure scoring engine: keyword coverage of rubric criteria plus TF-IDF similarity.

No web, database, settings or file access here (enforced by ``ruff.toml`` beside this file),
so the same code scores a live request, a rescoring job and an offline evaluation.
"""

from service.scoring.calibration import Calibration, CalibrationError
from service.scoring.engine import (
    ENGINE_VERSION,
    Grader,
    TrainingData,
    fit_calibration,
    fit_question_calibration,
    training_data,
)
from service.scoring.errors import RubricError, ScoringError
from service.scoring.types import (
    CriterionResult,
    CriterionSpec,
    GradedAnswer,
    RubricSpec,
    ScoreBreakdown,
    Span,
)

__all__ = [
    "ENGINE_VERSION",
    "Calibration",
    "CalibrationError",
    "CriterionResult",
    "CriterionSpec",
    "GradedAnswer",
    "Grader",
    "RubricError",
    "RubricSpec",
    "ScoreBreakdown",
    "ScoringError",
    "Span",
    "TrainingData",
    "fit_calibration",
    "fit_question_calibration",
    "training_data",
]
