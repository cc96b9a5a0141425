"""What the engine tells a student: per-criterion results and the summary line.

``feedback_texts`` lists every such text (and every advisory message), so that an answer
pasting feedback back can be recognised (``advisories.FeedbackEcho``).
"""

from __future__ import annotations

from collections.abc import Sequence

from service.scoring.advisories import ADVISORY_MESSAGES
from service.scoring.keywords import CompiledCriterion, CriterionMatch
from service.scoring.types import CriterionResult

# Feedback for criteria derived from reference answers. Such a criterion is one word of the
# model answer, so any text that named it would hand the answer key to the student: these
# say only that a key term was used or is missing. The student view (see the submissions
# presenter) reports derived criteria in aggregate with the two templates after them.
DERIVED_FEEDBACK_HIT = "You used one of the key terms of a full answer."
DERIVED_FEEDBACK_MISS = "A full answer uses a key term that your answer does not have yet."
DERIVED_COVERED_TEMPLATE = "Your answer uses {met} of the {total} key ideas of a full answer."
DERIVED_MISSING_TEMPLATE = (
    "Your answer is still missing {missing} of the {total} key ideas of a full answer."
)
_SUMMARY_HEAD = (
    "You scored {points:g} out of {max_points:g} and covered {met} of {total} key ideas."
)
_SUMMARY_TAIL = "Read the feedback on the ideas you missed to see what to add."


def criterion_result(match: CriterionMatch) -> CriterionResult:
    """The reported result of one criterion: met or not, where, and its feedback."""
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


def summary(counts: tuple[int, int], points: float, max_points: float) -> str:
    """``counts``: criteria met and criteria in all (every derived term, reported or not)."""
    met, total = counts
    head = _SUMMARY_HEAD.format(points=points, max_points=max_points, met=met, total=total)
    if met == total:
        return head
    return f"{head} {_SUMMARY_TAIL}"


def feedback_texts(criteria: Sequence[CompiledCriterion]) -> list[str]:
    """Every text the engine or the student view can show about an answer to a question
    with these criteria: hit and miss feedback, the derived-criteria texts, the summary
    and every advisory message (numbers in templates are placeholders; echo matching skips
    numbers)."""
    return [
        *(text for c in criteria for text in (c.spec.feedback_hit, c.spec.feedback_miss)),
        DERIVED_FEEDBACK_HIT,
        DERIVED_FEEDBACK_MISS,
        DERIVED_COVERED_TEMPLATE.format(met=0, total=0),
        DERIVED_MISSING_TEMPLATE.format(missing=0, total=0),
        f"{_SUMMARY_HEAD.format(points=0, max_points=0, met=0, total=0)} {_SUMMARY_TAIL}",
        *ADVISORY_MESSAGES,
    ]
