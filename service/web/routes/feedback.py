"""The student's feedback page: the feedback link, answered in HTML to a browser.

The JSON route (``service.api.routers.feedback``) resolves the link and presents it with
``present_feedback``, the student-safe view; this module only lays that view out. It is the
one page an LMS may frame: only from the organisation's allowed origins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse

from service.config import Settings, split_list
from service.db.models import Organization, Submission
from service.domain.submissions.schemas import CoveredIdea, FeedbackRead, MissedIdea
from service.integrations.lti import service as lti_service
from service.web import i18n
from service.web.i18n import gettext as _
from service.web.templating import render
from service.web.views import Bar, Segment, highlight


@dataclass(frozen=True)
class FeedbackPage:
    state: str  # withheld, pending, error or scored
    prompt: str
    submitted_at: datetime
    available_at: datetime | None
    segments: list[Segment]
    points: float | None
    max_points: float | None
    bar: Bar | None
    adjusted: bool
    needs_review: bool
    covered: list[CoveredIdea]
    missed: list[MissedIdea]
    advisories: list[str]


def _advisory_texts() -> dict[str, str]:
    """Advisories in the page's language; the engine's English message is the fallback for
    a code added later."""
    return {
        "keyword_stuffing": _(
            "The answer lists key words without explaining them; explain how the ideas connect."
        ),
        "copies_question": _(
            "Much of the answer repeats the question; answer it in your own words."
        ),
        "off_topic": _("The answer does not seem to be about this question."),
        "gibberish": _("Parts of the answer could not be read as words."),
        "repetition": _("The answer repeats itself; each sentence should add something new."),
        "too_short": _("The answer is very short; explain your ideas in full sentences."),
        "too_long": _("The answer is very long; only the part that could be read was scored."),
        "other_language": _("The answer seems to be in another language than the question."),
        # Results stored before other_language existed carry its former code.
        "not_english": _("The answer seems to be in another language than the question."),
        "echoes_feedback": _(
            "The answer repeats the teacher's feedback text; explain the ideas in your own words."
        ),
    }


def build_page(feedback: FeedbackRead) -> FeedbackPage:
    result = feedback.result
    if not feedback.released:
        state = "withheld"
    elif result is None and feedback.points is None:
        state = "error" if feedback.status == "error" else "pending"
    else:
        state = "scored"
    covered = result.covered if result and state == "scored" else []
    texts = _advisory_texts()
    return FeedbackPage(
        state=state,
        prompt=feedback.question_prompt,
        submitted_at=feedback.submitted_at,
        available_at=feedback.feedback_available_at,
        segments=highlight(
            feedback.answer, [[(s.start, s.end) for s in idea.your_words] for idea in covered]
        ),
        points=feedback.points,
        max_points=feedback.max_points,
        bar=Bar(feedback.points, feedback.max_points)
        if feedback.points is not None and feedback.max_points
        else None,
        adjusted=feedback.adjusted_by_instructor,
        needs_review=bool(result and result.needs_review),
        covered=covered,
        missed=result.missed if result and state == "scored" else [],
        advisories=[texts.get(a.code, a.message) for a in result.advisories]
        if result and state == "scored"
        else [],
    )


def frame_origins(session: Session, submission: Submission, settings: Settings) -> list[str]:
    organization = session.get(Organization, submission.organization_id)
    own = list(organization.embed_origins or []) if organization else []
    # The organisation's registered LMSs show this page in their iframe after an answer.
    lms = lti_service.frame_origins(session, submission.organization_id)
    return sorted({*split_list(settings.frame_ancestors), *own, *lms})


def render_feedback(
    request: Request,
    feedback: FeedbackRead,
    *,
    language: str | None,
    frame_ancestors: list[str],
) -> HTMLResponse:
    locale = i18n.best_locale([language])
    return render(
        request,
        "feedback.html",
        {"page": build_page(feedback), "content_lang": language or "en"},
        locale=locale,
        frame_ancestors=frame_ancestors,
    )
