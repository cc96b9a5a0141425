"""The pilot in a real browser: grade the proposed answers, read the agreement, calibrate."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from service.scoring.pilot import MIN_TO_CALIBRATE
from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in

Q = "backchannel-q1"
ANSWERS = [
    "I do not know.",
    "The crisis happened in Cuba in 1962.",
    "They talked a lot.",
    "Kennedy and Khrushchev negotiated secretly.",
    "The leaders negotiated secretly, which helped them avoid war.",
    "Secret messages let Kennedy and Khrushchev understand each other and avoid war.",
    "Kennedy and Khrushchev sent secret messages through Robert Kennedy and Dobrynin, which "
    "let each side learn what the other really wanted and helped them avoid war.",
]


def test_instructor_grades_proposals_sees_agreement_and_calibrates(live: Live, page: Page) -> None:
    with live.client(live.key("integration", "LMS")) as lms:
        for index, answer in enumerate(ANSWERS):
            response = lms.post(
                "/v1/submissions",
                json={"question_id": Q, "learner_id": f"student-{index}", "answer": answer},
            )
            assert response.status_code == 201, response.text
    sign_in(page, live.key("instructor", "Ms Rivera"))
    page.goto(f"/console/questions/{Q}")
    page.get_by_role("link", name="Pilot: grade a few answers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Pilot: grade the answers it proposes"
    )
    expect(page.locator("#agreement-sentence")).to_have_text(
        "You have not graded any answer of this question yet."
    )
    assert_accessible(page)

    # A grade that is not a number is refused beside its field.
    page.get_by_label("Your points").fill("lots")
    page.get_by_role("button", name="Save my grade").click()
    expect(page.locator("#points-error")).to_be_visible()
    assert_accessible(page)

    # Proposals graded half a point or a point under the machine, never the same answer twice.
    seen: list[str] = []

    def grade_the_proposal() -> None:
        answer = page.locator("#proposed-answer").inner_text()
        assert answer not in seen
        seen.append(answer)
        machine = re.search(r"The machine gave ([\d.]+) of", page.content())
        assert machine is not None
        lower = 1.0 if len(seen) % 2 else 0.5
        page.get_by_label("Your points").fill(str(max(0.0, float(machine[1]) - lower)))
        page.get_by_label("Reason (optional").fill("Read in the pilot.")
        page.get_by_role("button", name="Save my grade").click()

    for _ in range(MIN_TO_CALIBRATE - 1):
        grade_the_proposal()
        expect(page.get_by_role("status")).to_have_text("Your grade was saved.")
    sentence = page.locator("#agreement-sentence").inner_text()
    assert re.fullmatch(
        r"Agreement so far: r = [-\d.]+ \(90% interval [-\d.]+ to [-\d.]+\) over 4 answers\.",
        sentence,
    ), sentence
    expect(page.locator("#agreement-established")).to_have_text("not yet")
    assert_accessible(page)
    screenshot(page, "console-pilot")

    # The fifth grade like the others: agreement is established, and the question calibrated.
    grade_the_proposal()
    expect(page.locator("#agreement-established")).to_have_text("yes")
    expect(page.locator("#calibrated-notice")).to_contain_text(
        f"calibrated automatically on {MIN_TO_CALIBRATE} graded answers, as rubric version 2"
    )
    assert_accessible(page)
    screenshot(page, "console-pilot-calibrated")

    # "Calibrate now" on the same grades finds the calibrated version already saved.
    page.get_by_role("button", name="Calibrate now").click()
    expect(page.get_by_role("status").first).to_contain_text(
        f"Saved as rubric version 2, calibrated on {MIN_TO_CALIBRATE} graded answers"
    )
    assert_accessible(page)
