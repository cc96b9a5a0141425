"""Turn stored rows into response schemas (the one place that knows both shapes)."""

from __future__ import annotations

from service.db.models import GradingResult, Submission
from service.domain.submissions.schemas import (
    AdvisoryRead,
    Components,
    CriterionResultRead,
    FeedbackAdvisory,
    FeedbackCriterion,
    FeedbackRead,
    ResultRead,
    SpanRead,
    SubmissionRead,
    SubmissionStatus,
    Weights,
)

PENDING_MESSAGE = (
    "Your answer has been saved but could not be scored yet; it will be scored automatically "
    "and nothing needs to be resubmitted."
)


ERROR_MESSAGE = (
    "Your answer is saved and safe, but it could not be scored automatically. Your teacher "
    "will grade it by hand; nothing needs to be resubmitted."
)


def _unscored_message(submission: Submission) -> str | None:
    """What to say while there is no machine score (for ``error``, until a teacher graded it)."""
    if submission.latest_result is not None:
        return None
    if submission.status == "error":
        return None if submission.is_overridden else ERROR_MESSAGE
    return PENDING_MESSAGE


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
        model="calibrated" if result.model == "calibrated" else "default",
        confidence=result.confidence,
        needs_review=result.needs_review,
        advisories=[AdvisoryRead.model_validate(a) for a in details.get("advisories", [])],
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


def present_submission(submission: Submission, *, base_url: str | None = None) -> SubmissionRead:
    """``base_url`` (the service's public address) turns the feedback token into a URL."""
    latest = submission.latest_result
    feedback_url = None
    if base_url is not None and submission.feedback_token:
        feedback_url = f"{base_url.rstrip('/')}/v1/feedback/{submission.feedback_token}"
    return SubmissionRead(
        id=submission.id,
        question_id=submission.question.slug,
        learner_id=submission.learner_id,
        answer=submission.answer,
        status=_status(submission),
        created_at=submission.created_at,
        points=submission.points,
        max_points=submission.max_points,
        overridden=submission.is_overridden,
        needs_review=submission.needs_review,
        result=present_result(latest) if latest is not None else None,
        feedback_url=feedback_url,
        message=_unscored_message(submission),
        scoring_error=submission.scoring_error if submission.status == "error" else None,
    )


def _status(submission: Submission) -> SubmissionStatus:
    if submission.status == "error":
        return "error"
    return "scored" if submission.status == "scored" else "pending"


def present_feedback(submission: Submission, *, prompt: str) -> FeedbackRead:
    latest = submission.latest_result
    result = present_result(latest) if latest is not None else None
    return FeedbackRead(
        question_prompt=prompt,
        answer=submission.answer,
        status=_status(submission),
        submitted_at=submission.created_at,
        points=submission.points,
        max_points=submission.max_points,
        adjusted_by_instructor=submission.is_overridden,
        summary=result.summary if result else None,
        advisories=[
            FeedbackAdvisory(code=a.code, message=a.message)
            for a in (result.advisories if result else [])
        ],
        criteria=[
            FeedbackCriterion(
                description=c.description,
                met=c.met,
                matched_phrasing=c.matched_phrasing,
                spans=c.spans,
                feedback=c.feedback,
            )
            for c in (result.criteria if result else [])
        ],
        message=_unscored_message(submission),
    )
