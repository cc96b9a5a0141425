"""The student's journey in a real browser: open the feedback link, read it, held back or not."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import Live, assert_accessible, screenshot

ANSWER = (
    "Kennedy and Khrushchev sent secret messages through Robert Kennedy and Dobrynin, which "
    "let each side learn what the other really wanted and helped them avoid war."
)


def _submit(live: Live, lms_key: str, answer: str = ANSWER) -> dict[str, Any]:
    with live.client(lms_key) as lms:
        response = lms.post(
            "/v1/submissions",
            json={"question_id": "backchannel-q1", "learner_id": "student-17", "answer": answer},
        )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_student_reads_feedback(live: Live, page: Page) -> None:
    created = _submit(live, live.key("integration", "LMS"))
    page.goto(created["feedback_url"])
    expect(page).to_have_title("Your feedback · Assessment grader")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your feedback")
    expect(page.locator(".score-figure")).to_contain_text(f"{created['points']:g}")
    marks = page.locator("mark.evidence")
    assert marks.count() >= 2
    # Each highlight names its idea in text, not only by colour.
    expect(marks.first.locator(".mark-ref")).to_have_text(re.compile(r"^\(idea [0-9,]+\)\s*$"))
    expect(page.get_by_role("heading", name="Ideas to work on")).to_be_visible()
    expect(page.get_by_role("heading", name="What to do next")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "student-feedback")
    page.set_viewport_size({"width": 360, "height": 800})
    # Readable on a small phone: nothing wider than the screen.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert_accessible(page)
    screenshot(page, "student-feedback-phone")
    page.emulate_media(media="print")
    expect(page.locator(".site-header nav")).to_have_count(0)
    page.emulate_media(media="screen")


def test_student_sees_only_that_a_held_back_answer_was_received(live: Live, page: Page) -> None:
    instructor = live.key("instructor", "Ms Rivera")
    with live.client(instructor) as staff:
        held = staff.put("/v1/questions/backchannel-q1/feedback-release", json={"mode": "manual"})
        assert held.status_code == 200, held.text
    created = _submit(live, live.key("integration", "LMS"))
    page.goto(created["feedback_url"])
    expect(page.get_by_role("heading", name="Your answer was received")).to_be_visible()
    expect(page.locator(".score-figure")).to_have_count(0)
    expect(page.locator("mark.evidence")).to_have_count(0)
    assert_accessible(page)
    screenshot(page, "student-feedback-held-back")


def test_landing_page(live: Live, page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("link", name="Instructor console")).to_be_visible()
    expect(page.get_by_role("link", name="API documentation")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "landing")
