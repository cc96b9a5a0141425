"""Turn stored rows into response schemas (the one place that knows both shapes)."""

from __future__ import annotations

from typing import Any

from service.db.models import GradingResult, Submission
from service.domain.submissions import release
from service.domain.submissions.schemas import (
    AdvisoryRead,
    Components,
    CoveredIdea,
    CriterionResultRead,
    FeedbackAdvisory,
    FeedbackRead,
    MissedIdea,
    ResultRead,
    SpanRead,
    StudentResultRead,
    SubmissionRead,
    SubmissionStatus,
    Weights,
)
from service.domain.submissions.service import issued_feedback_token
from service.scoring.feedback import DERIVED_COVERED_TEMPLATE, DERIVED_MISSING_TEMPLATE

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


def feedback_url_of(submission: Submission, base_url: str | None) -> str | None:
    """The link, only in the request that issued its token (the database keeps a hash)."""
    token = issued_feedback_token(submission)
    if base_url is None or token is None:
        return None
    return f"{base_url.rstrip('/')}/v1/feedback/{token}"


def present_student_result(result: GradingResult, *, answer: str) -> StudentResultRead:
    """The student-safe view of ``result`` for the submitted ``answer``.

    Built from the stored details by listing what may be shown, never by filtering out
    what may not: a field added to the details later stays hidden until it is added here.
    Criteria derived from reference answers are single words of the model answer, and even
    their stored feedback may name them (results of engines before 2.2.0 do), so they are
    reported only as counts; the student's own matched words are still shown.
    """
    details = result.details
    criteria: list[dict[str, Any]] = details["criteria"]
    met = [c for c in criteria if c["met"]]
    if _is_derived(result):
        covered = []
        if met:
            words = sorted({(s["start"], s["end"]) for c in met for s in c["spans"]})
            covered.append(
                CoveredIdea(
                    feedback=DERIVED_COVERED_TEMPLATE.format(met=len(met), total=len(criteria)),
                    your_words=_own_words(answer, words),
                )
            )
        missing = len(criteria) - len(met)
        missed = (
            [MissedIdea(hint=DERIVED_MISSING_TEMPLATE.format(missing=missing, total=len(criteria)))]
            if missing
            else []
        )
    else:
        covered = [
            CoveredIdea(
                feedback=c["feedback"],
                your_words=_own_words(answer, [(s["start"], s["end"]) for s in c["spans"]]),
            )
            for c in met
        ]
        missed = [MissedIdea(hint=c["feedback"]) for c in criteria if not c["met"]]
    return StudentResultRead(
        points=result.points,
        max_points=result.max_points,
        score=result.score,
        needs_review=result.needs_review,
        summary=details["summary"],
        covered=covered,
        missed=missed,
        advisories=[
            FeedbackAdvisory(code=a["code"], message=a["message"])
            for a in details.get("advisories", [])
        ],
        rubric_version=result.rubric_version.version,
        scorer_version=result.engine_version,
        scored_at=result.created_at,
    )


def _is_derived(result: GradingResult) -> bool:
    """The result's rubric has no authored criteria: the engine derived them."""
    return not result.rubric_version.content.get("criteria")


def _own_words(answer: str, spans: list[tuple[int, int]]) -> list[SpanRead]:
    """Spans of the student's answer, with the text read from the answer itself."""
    return [
        SpanRead(start=start, end=end, text=answer[start:end])
        for start, end in spans
        if 0 <= start < end <= len(answer)
    ]


def present_submission(
    submission: Submission,
    *,
    base_url: str | None = None,
    full: bool = True,
    released: bool = True,
) -> SubmissionRead:
    """``base_url`` (the service's public address) turns a just-issued token into a URL.

    ``full``: the full breakdown (instructors and admins); otherwise the student-safe view
    (integrations, callbacks), which never carries rubric internals. ``released`` False
    (see ``release.shows_results``) holds back points and the result.
    """
    feedback_url = feedback_url_of(submission, base_url)
    if not released:
        return _present_withheld_submission(submission, feedback_url)
    latest = submission.latest_result
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
        result=(
            None
            if latest is None
            else present_result(latest)
            if full
            else present_student_result(latest, answer=submission.answer)
        ),
        feedback_url=feedback_url,
        message=_unscored_message(submission),
        scoring_error=submission.scoring_error if submission.status == "error" else None,
    )


def _status(submission: Submission) -> SubmissionStatus:
    if submission.status == "error":
        return "error"
    return "scored" if submission.status == "scored" else "pending"


def _present_withheld_submission(
    submission: Submission, feedback_url: str | None
) -> SubmissionRead:
    """Before release: that the answer arrived, nothing about its score."""
    return SubmissionRead(
        id=submission.id,
        question_id=submission.question.slug,
        learner_id=submission.learner_id,
        answer=submission.answer,
        status=_status(submission),
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
    """The student's feedback link: always the student-safe view; ``released`` False (see
    ``release.shows_results``): only the answer and its status."""
    if not released:
        return _present_withheld_feedback(submission, prompt=prompt)
    latest = submission.latest_result
    return FeedbackRead(
        question_prompt=prompt,
        answer=submission.answer,
        status=_status(submission),
        submitted_at=submission.created_at,
        points=submission.points,
        max_points=submission.max_points,
        adjusted_by_instructor=submission.is_overridden,
        result=(
            present_student_result(latest, answer=submission.answer) if latest is not None else None
        ),
        message=_unscored_message(submission),
    )


def _present_withheld_feedback(submission: Submission, *, prompt: str) -> FeedbackRead:
    return FeedbackRead(
        question_prompt=prompt,
        answer=submission.answer,
        status=_status(submission),
        submitted_at=submission.created_at,
        points=None,
        max_points=None,
        adjusted_by_instructor=False,
        result=None,
        message=release.withheld_message(submission.question),
        released=False,
        feedback_available_at=release.available_at(submission.question),
    )
