"""The instructor's and admin's journeys through the console in a real browser, axe-core on
every page they pass."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from playwright.sync_api import Page, expect

from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in

Q = "backchannel-q1"
ANSWERS = [
    "Kennedy and Khrushchev sent secret messages through Robert Kennedy and Dobrynin, which "
    "let each side learn what the other really wanted and helped them avoid war.",
    "They talked in secret.",
    "Backchannels let the leaders make offers privately, like removing the missiles in Turkey, "
    "without looking weak in public, so they could compromise and avoid a nuclear war.",
    "I think the crisis was about missiles in Cuba.",
    # Keyword stuffing: flagged, so the review queue has work.
    "backchannel secret Kennedy Khrushchev Dobrynin avoid war trust private messages",
]


def _post_answers(live: Live) -> list[dict[str, Any]]:
    lms_key = live.key("integration", "LMS")
    created = []
    with live.client(lms_key) as lms:
        for index, answer in enumerate(ANSWERS):
            response = lms.post(
                "/v1/submissions",
                json={"question_id": Q, "learner_id": f"student-{index}", "answer": answer},
            )
            assert response.status_code == 201, response.text
            created.append(response.json())
    return created


def test_instructor_reviews_overrides_edits_rescores_and_signs_out(live: Live, page: Page) -> None:
    _post_answers(live)
    instructor = live.key("instructor", "Ms Rivera")
    sign_in(page, instructor)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your courses")
    assert_accessible(page)
    screenshot(page, "console-home")

    # The review queue, then one submission: override it with a reason.
    page.get_by_role("link", name="Review queue").click()
    expect(page.locator("#review-table")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console-review-queue")
    page.locator(".review-open").first.click()
    expect(page.locator("#override-points")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console-submission")
    submission_url = page.url
    page.locator("#override-points").fill("7")
    page.locator("#override-reason").fill("Names the Turkey trade implicitly; worth more.")
    page.locator("#override-submit").click()
    page.wait_for_load_state()
    submission_id = urlparse(submission_url).path.rsplit("/", 1)[1]
    with live.client(instructor) as staff:
        listed = staff.get(f"/v1/submissions/{submission_id}/overrides")
        assert listed.status_code == 200, (submission_url, listed.text)
        trail = listed.json()["items"]
    assert [(o["new_points"], o["reason"]) for o in trail] == [
        (7.0, "Names the Turkey trade implicitly; worth more.")
    ]
    page.goto(submission_url)
    expect(page.locator("#override-history")).to_contain_text("Names the Turkey trade")

    # The question's page: distribution and criteria charts.
    page.goto(f"/console/questions/{Q}")
    expect(page.locator("#points-histogram")).to_be_visible()
    expect(page.locator("#criteria-chart")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console-question")

    # The rubric editor: a live try of the draft, then save a new version.
    page.goto(f"/console/questions/{Q}/rubric")
    expect(page.locator("#rubric-form")).to_be_visible()
    assert_accessible(page)
    page.locator("#try-answer").fill("They used secret back channels to avoid war.")
    page.locator("#try-submit").click()
    expect(page.locator("#try-result")).to_contain_text(re.compile(r"\d"))
    screenshot(page, "console-rubric-editor")
    phrasings = page.locator("#criterion-0-phrasings")
    phrasings.fill(phrasings.input_value() + "\nwar was avoided")
    page.locator("#rubric-save").click()
    expect(page.locator("#saved-notice")).to_be_visible()
    assert_accessible(page)

    # Rescoring: the dry run first, then the job to the end.
    page.goto(f"/console/questions/{Q}/rescore")
    expect(page.locator("#rescore-preview")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console-rescore-preview")
    page.locator("#rescore-start").click()
    expect(page.locator("#job-progress")).to_be_visible()
    expect(page.locator("#job-done")).to_be_visible(timeout=30_000)
    assert_accessible(page)
    screenshot(page, "console-rescore-done")
    with live.client(instructor) as staff:
        after = staff.get(f"/v1/submissions/{submission_id}").json()
    assert after["points"] == 7.0  # the override survived the rescoring

    # Calibration: grade a few proposed answers in a row.
    page.goto(f"/console/questions/{Q}/calibrate")
    expect(page.locator("#calibrate-form")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console-calibrate")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are signed out")
    assert_accessible(page)
    page.goto("/console")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=/console$"))


def test_admin_creates_a_key_shown_once_and_manages_courses(live: Live, page: Page) -> None:
    sign_in(page, live.key("admin", "Head of department"))
    page.goto("/console/keys")
    expect(page.locator("#keys-table")).to_be_visible()
    assert_accessible(page)
    form = page.locator("#new-key-form")
    form.get_by_label("Name").fill("Mr Okafor")
    form.get_by_label("Role").select_option("instructor")
    form.locator("input[type=checkbox]").first.check()
    form.locator("button[type=submit]").click()
    key = page.locator("#new-key-value").input_value().strip()
    assert key.startswith("grk_")
    assert_accessible(page)
    page.goto("/console/keys")  # shown once: the list never shows it again
    expect(page.locator("#new-key-value")).to_have_count(0)
    expect(page.locator("#keys-table")).to_contain_text("Mr Okafor")
    page.goto("/console/courses")
    expect(page.locator("#courses-table")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console-courses")


def test_another_courses_pages_are_not_found(live: Live, page: Page) -> None:
    created = live.api.post("/v1/courses", json={"id": "other", "title": "Other course"})
    assert created.status_code == 201, created.text
    outsider = live.key("instructor", "Outsider", courses=["other"])
    submission = _post_answers(live)[0]
    sign_in(page, outsider)
    for path in (
        f"/console/questions/{Q}",
        f"/console/questions/{Q}/rubric",
        f"/console/submissions/{submission['id']}",
    ):
        response = page.goto(path)
        assert response is not None
        assert response.status == 404, path
        expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    assert_accessible(page)


def test_a_forged_csrf_token_is_refused(live: Live, page: Page) -> None:
    sign_in(page, live.key("instructor", "Ms Rivera"))
    page.evaluate(
        "document.querySelectorAll('input[name=csrftoken]').forEach(i => i.value = 'forged')"
    )
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    assert_accessible(page)
    page.goto("/console")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your courses")  # still signed in


def test_instructor_grades_an_answer_group_splits_and_reverts(live: Live, page: Page) -> None:
    same = "They sent secret messages to each other, which helped them avoid war."
    lms_key = live.key("integration", "LMS")
    with live.client(lms_key) as lms:
        for index, answer in enumerate([same, same.upper(), same + "!", *ANSWERS[1:4]]):
            body = {"question_id": Q, "learner_id": f"student-{index}", "answer": answer}
            assert lms.post("/v1/submissions", json=body).status_code == 201
    instructor = live.key("instructor", "Ms Rivera")
    sign_in(page, instructor)
    page.goto(f"/console/questions/{Q}")
    page.locator("#answer-groups").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Answer groups")
    first = page.locator("section.group").first
    expect(first.get_by_role("heading", level=2)).to_contain_text("3 answers")
    assert_accessible(page)
    screenshot(page, "console-answer-groups")

    # Grade the largest group: three overrides, the scores shown on the group's page.
    first.get_by_label(re.compile("Points for every answer")).fill("9")
    first.get_by_label(re.compile("Reason")).fill("All three say the talks avoided war.")
    first.get_by_role("button", name="Grade these 3 answers").click()
    expect(page.locator("#graded-notice")).to_contain_text("Graded 3 answers")
    assert_accessible(page)
    page.locator("section.group").first.get_by_role(
        "link", name="See its answers, split or move them"
    ).click()
    expect(page.locator("#members tbody tr")).to_have_count(3)
    expect(page.locator("#members")).to_contain_text("9")
    assert_accessible(page)
    screenshot(page, "console-answer-group")

    # Revert one answer's grade alone, then split it off into its own group.
    page.locator("#revert-list button").first.click()
    expect(page.get_by_role("status")).to_contain_text("reverted")
    expect(page.locator("#revert-list button")).to_have_count(2)
    page.locator("#members tbody input[type=checkbox]").first.check()
    page.locator("#split-submit").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("one answer")
    expect(page.locator("#members")).to_contain_text("placed by hand")
    assert_accessible(page)
    # Nothing to split off a group of one: the refusal is explained on the page.
    page.locator("#members tbody input[type=checkbox]").first.check()
    page.locator("#split-submit").click()
    expect(page.locator("#group-error")).to_be_visible()
    assert_accessible(page)
