"""A learner's LTI launch in a real browser, inside the LMS's iframe: the test platform
(tests/lti/platform.py) serves a course page whose <iframe> starts the launch; Chromium
follows the OIDC login, the platform's auto-submitting form_post and the tool's answer
page, all framed; the answer's feedback is shown in the frame and the platform's gradebook
receives the Score. Then the admin's LMS page, where that platform is listed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Frame, Page, expect

from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in
from tests.conftest import ADMIN_KEY
from tests.lti.conftest import wait_for
from tests.lti.helpers import LEARNER, PROMPT, place_new_question
from tests.lti.platform import LtiBrowser, LtiPlatform

ANSWER = (
    "They used a secret backchannel so they could negotiate privately without public "
    "pressure, trading the missiles in Turkey for the missiles in Cuba."
)


@pytest.fixture
def lms(live: Live) -> Iterator[LtiPlatform]:
    """The test platform and the live service, registered with each other by hand."""
    with LtiPlatform.start() as platform:
        platform.register_tool(live.base_url)
        registered = live.api.post(
            "/v1/lti/platforms",
            json={
                "name": "Test LMS",
                "issuer": platform.issuer,
                "client_id": platform.client_id,
                "auth_login_url": platform.auth_login_url,
                "token_url": platform.token_url,
                "jwks_url": platform.jwks_url,
                "deployment_ids": [platform.deployment_id],
            },
        )
        assert registered.status_code == 201, registered.text
        yield platform


def _frame(page: Page, url: str) -> Frame:
    """The frame showing ``url`` (a regular expression); call once a locator in it has
    matched: Playwright updates frames only while it is called, so polling would not see it."""
    found = page.frame(url=re.compile(url))
    assert found is not None, [f.url for f in page.frames]
    return found


def test_a_learner_answers_in_the_lms_iframe_and_the_gradebook_gets_the_score(
    live: Live, lms: LtiPlatform, page: Page
) -> None:
    # The teacher placed a question through deep linking (httpx plays that browser).
    with LtiBrowser(timeout=30) as teacher:
        link = place_new_question(lms, teacher, title="Secret talks", points="10")
    item = link["content_item"]
    login = lms.prepare_launch(
        user=LEARNER,
        context_id=link["context_id"],
        resource_link_id=link["id"],
        custom=item.get("custom"),
        lineitem_id=link["lineitem_id"],
        target_link_uri=item.get("url"),
    )

    # The learner opens the course page: the iframe runs login, /auth's form_post, launch.
    page.goto(lms.course_page_url(login, title="Secret talks"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Secret talks")
    framed = page.frame_locator("iframe[title='Secret talks']")
    expect(framed.get_by_role("heading", level=1)).to_have_text("Secret talks")
    expect(framed.get_by_text(PROMPT)).to_be_visible()
    # Chromium submitted /auth's auto-submitting form: the learner's launch was issued.
    assert lms.launches[-1]["sub"] == LEARNER.sub
    frame = _frame(page, "^" + re.escape(f"{live.base_url}/lti/launch") + "$")
    assert_accessible(frame)

    # Typing updates the live word count (lti.js runs in the frame under the tool's CSP).
    box = framed.get_by_label("Your answer")
    box.fill("They talked")
    expect(framed.locator("#word-count")).to_have_text("2 words")
    box.fill(ANSWER)
    expect(framed.locator("#word-count")).to_have_text(f"{len(ANSWER.split())} words")
    screenshot(page, "lti-answer-in-lms")

    # Submit: the feedback page is shown in the iframe (framed by the platform's origin).
    framed.get_by_role("button", name="Submit answer").click()
    expect(framed.get_by_role("heading", level=1)).to_have_text("Your feedback")
    feedback = _frame(page, "^" + re.escape(f"{live.base_url}/v1/feedback/"))
    expect(feedback.locator("main")).to_contain_text(PROMPT)
    expect(feedback.locator("main")).to_contain_text("out of 10")
    assert_accessible(feedback)

    # The gradebook: a Score for the learner on the placement's line item.
    lineitem = link["lineitem_id"]
    scores = wait_for(
        lambda: [s for s in lms.scores.get(lineitem, []) if "scoreGiven" in s],
        f"a scored Score on {lineitem}",
    )
    assert scores[-1]["userId"] == LEARNER.sub
    assert scores[-1]["scoreMaximum"] == 10
    assert 0 <= scores[-1]["scoreGiven"] <= 10
    assert scores[-1]["activityProgress"] == "Submitted"
    assert scores[-1]["gradingProgress"] in ("FullyGraded", "PendingManual")


def test_the_admins_lms_page(
    live: Live, lms: LtiPlatform, page: Page, context: BrowserContext
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.base_url)
    sign_in(page, ADMIN_KEY)
    page.get_by_role("link", name="LMS", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("LMS platforms")
    row = page.locator("#lms-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Test LMS")
    expect(row).to_contain_text(lms.deployment_id)
    expect(page.locator("#tool-login-url")).to_have_value(f"{live.base_url}/lti/login")
    assert_accessible(page)
    screenshot(page, "console-lms")

    # The Copy buttons appear with lms.js and put the value on the clipboard.
    page.get_by_role("button", name="Copy Login URL").click()
    expect(page.locator("#copy-status")).to_have_text("Copied to the clipboard.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{live.base_url}/lti/login"

    # A registration URL, shown once; reloading shows the page, not the form posted again.
    page.get_by_role("button", name="Make a registration URL").click()
    invite = page.locator("#invite-url")
    expect(invite).to_have_value(
        re.compile("^" + re.escape(f"{live.base_url}/lti/register?invite="))
    )
    assert_accessible(page)
    page.reload()
    expect(page.locator("#invite-url")).to_have_count(0)
    expect(page.locator("#lms-table tbody tr")).to_have_count(1)
