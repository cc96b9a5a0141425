"""Turn stored rows into response schemas (the one place that knows both shapes)."""

from __future__ import annotations

from service.db.models import GradingResult, Submission
from service.domain.submissions import release
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
    Weights,
)
from service.domain.submissions.service import issued_feedback_token

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


def feedback_url_of(submission: Submission, base_url: str | None) -> str | None:
    """The link, only in the request that issued its token (the database keeps a hash)."""
    token = issued_feedback_token(submission)
    if base_url is None or token is None:
        return None
    return f"{base_url.rstrip('/')}/v1/feedback/{token}"


def present_submission(
    submission: Submission, *, base_url: str | None = None, released: bool = True
) -> SubmissionRead:
    """``base_url`` (the service's public address) turns a just-issued token into a URL.

    ``released`` False (see ``release.shows_results``) holds back points and the result."""
    feedback_url = feedback_url_of(submission, base_url)
    if not released:
        return _present_withheld_submission(submission, feedback_url)
    latest = submission.latest_result
    return SubmissionRead(
        id=submission.id,
        question_id=submission.question.slug,
        learner_id=submission.learner_id,
        answer=submission.answer,
        status="scored" if submission.status == "scored" else "pending",
        created_at=submission.created_at,
        points=submission.points,
        max_points=submission.max_points,
        overridden=submission.is_overridden,
        needs_review=submission.needs_review,
        result=present_result(latest) if latest is not None else None,
        feedback_url=feedback_url,
        message=PENDING_MESSAGE if latest is None else None,
    )


def _present_withheld_submission(
    submission: Submission, feedback_url: str | None
) -> SubmissionRead:
    """Before release: that the answer arrived, nothing about its score."""
    return SubmissionRead(
        id=submission.id,
        question_id=submission.question.slug,
        learner_id=submission.learner_id,
        answer=submission.answer,
        status="scored" if submission.status == "scored" else "pending",
        created_at=submission.created_at,
        points=None,
        max_points=None,
        overridden=False,
        needs_review=False,
        result=None,
        feedback_url=feedback_url,
        message=release.withheld_message(submission.question),
        feedback_released=False,
    )


def present_feedback(submission: Submission, *, prompt: str, released: bool = True) -> FeedbackRead:
    """``released`` False (see ``release.shows_results``): only the answer and its status."""
    if not released:
        return _present_withheld_feedback(submission, prompt=prompt)
    latest = submission.latest_result
    result = present_result(latest) if latest is not None else None
    return FeedbackRead(
        question_prompt=prompt,
        answer=submission.answer,
        status="scored" if submission.status == "scored" else "pending",
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
        message=PENDING_MESSAGE if result is None else None,
    )


def _present_withheld_feedback(submission: Submission, *, prompt: str) -> FeedbackRead:
    return FeedbackRead(
        question_prompt=prompt,
        answer=submission.answer,
        status="scored" if submission.status == "scored" else "pending",
        submitted_at=submission.created_at,
        points=None,
        max_points=None,
        adjusted_by_instructor=False,
        summary=None,
        criteria=[],
        advisories=[],
        message=release.withheld_message(submission.question),
        released=False,
        feedback_available_at=release.available_at(submission.question),
    )
