"""Turn stored rows into response schemas (the one place that knows both shapes)."""

from __future__ import annotations

from service.db.models import GradingResult, Submission
from service.domain.submissions.schemas import (
    Components,
    CriterionResultRead,
    ResultRead,
    SpanRead,
    SubmissionRead,
    Weights,
)

PENDING_MESSAGE = (
    "Your answer has been saved but could not be scored yet; it will be scored automatically "
    "and nothing needs to be resubmitted."
)


def present_result(result: GradingResult) -> ResultRead:
    details = result.details
    return ResultRead(
        points=result.points,
        max_points=result.max_points,
        score=result.score,
        components=Components(
            keyword_coverage=result.keyword_coverage, tfidf_similarity=result.similarity
        ),
        weights=Weights.model_validate(details["weights"]),
        criteria=[
            CriterionResultRead(
                id=c["id"],
                description=c["description"],
                weight=c["weight"],
                met=c["met"],
                matched_phrasing=c["matched_phrasing"],
                matched_words=[span["text"] for span in c["spans"]],
                spans=[SpanRead.model_validate(span) for span in c["spans"]],
                feedback=c["feedback"],
            )
            for c in details["criteria"]
        ],
        summary=details["summary"],
        rubric_version=result.rubric_version.version,
        scorer_version=result.engine_version,
        scored_at=result.created_at,
    )


def present_submission(submission: Submission) -> SubmissionRead:
    latest = submission.latest_result
    return SubmissionRead(
        id=submission.id,
        question_id=submission.question_id,
        learner_id=submission.learner_id,
        answer=submission.answer,
        status="scored" if submission.status == "scored" else "pending",
        created_at=submission.created_at,
        result=present_result(latest) if latest is not None else None,
        message=PENDING_MESSAGE if latest is None else None,
    )
