"""The LTI journeys against a real platform over loopback HTTP: registration (manual and
dynamic), a deep-linking round trip, an instructor launch that opens the console, a learner
launch that answers, and the Score the platform's gradebook received, re-posted after an
override and after a rescore."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from service.db.models import LtiLaunch, Submission
from tests.lti.conftest import Tool, register_manually, wait_for
from tests.lti.helpers import (
    LEARNER,
    PROMPT,
    TEACHER,
    answer,
    b64_bytes,
    launch_link,
    place_new_question,
)
from tests.lti.platform import (
    MESSAGE_DEEP_LINKING,
    ROLE_LEARNER,
    ROLE_TA,
    LtiBrowser,
    LtiPlatform,
    PlatformUser,
)

GOOD_ANSWER = (
    "They used a secret backchannel so they could negotiate privately without public "
    "pressure, trading the missiles in Turkey for the missiles in Cuba."
)


def submissions_of(tool: Tool, question_id: str) -> list[dict[str, Any]]:
    listed = tool.api.get("/v1/submissions", params={"question_id": question_id, "limit": 100})
    assert listed.status_code == 200, listed.text
    return list(listed.json()["items"])


def scores_for(platform: LtiPlatform, lineitem: str, count: int) -> list[dict[str, Any]]:
    """A copy of the line item's scores once it has ``count``: the platform's own list keeps
    growing as later scores arrive (a rescore's reposts can land before the test reads the
    first ones, now that deliveries no longer build a TLS context each)."""
    return wait_for(
        lambda: (
            list(platform.scores[lineitem])
            if len(platform.scores.get(lineitem, [])) >= count
            else None
        ),
        f"{count} score(s) on {lineitem}",
    )


def settled_outbox(tool: Tool) -> list[dict[str, Any]]:
    """The gradebook outbox of the (one) registered platform once nothing is pending."""
    [registered] = tool.api.get("/v1/lti/platforms").json()["items"]
    path = f"/v1/lti/platforms/{registered['id']}/scores"

    def settled() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = tool.api.get(path).json()["items"]
        return items if items and all(r["status"] != "pending" for r in items) else None

    return wait_for(settled, "the gradebook outbox to settle")


def question_of(link: dict[str, Any]) -> str:
    return str(link["content_item"]["custom"]["question_id"])


def test_deep_linking_places_a_new_question_with_its_line_item(
    tool: Tool, platform: LtiPlatform, agent: httpx.Client
) -> None:
    picker = platform.launch(agent, user=TEACHER, message_type=MESSAGE_DEEP_LINKING)
    assert picker.status_code == 200
    # The picker is framed by the LMS: its origin, and no other, may embed it.
    assert f"frame-ancestors {platform.issuer}" in picker.headers["content-security-policy"]
    assert "This course has no questions yet" in picker.text

    link = place_new_question(platform, agent, title="Secret talks", points="8")

    claims = platform.deep_link_responses[-1]
    items = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert len(items) == 1
    item = items[0]
    assert item["type"] == "ltiResourceLink"
    assert item["url"] == f"{tool.base_url}/lti/launch"
    assert item["lineItem"]["scoreMaximum"] == 8
    assert item["lineItem"]["label"] == "Secret talks"
    slug = item["custom"]["question_id"]
    # The question exists in the course the LMS context became, with derived criteria.
    question = tool.api.get(f"/v1/questions/{slug}")
    assert question.status_code == 200, question.text
    assert question.json()["prompt"] == PROMPT
    assert question.json()["max_points"] == 8
    courses = tool.api.get("/v1/courses").json()["items"]
    assert "History 101" in [c["title"] for c in courses]
    assert link["lineitem_id"] in platform.lineitems

    # A second deep-linking launch lists it, and picking it places it again.
    picker = platform.launch(agent, user=TEACHER, message_type=MESSAGE_DEEP_LINKING)
    assert "Secret talks" in picker.text
    handoff = platform.submit_form(agent, picker, fields={"question_id": slug})
    assert handoff.status_code == 200
    # The hand-off posts to the LMS: its CSP allows that one form target.
    assert f"form-action 'self' {platform.issuer}" in handoff.headers["content-security-policy"]
    assert platform.submit_form(agent, handoff).status_code == 200
    assert len(platform.deep_link_responses) == 2


def test_a_learner_answers_and_the_gradebook_gets_the_score_then_the_override(
    tool: Tool, platform: LtiPlatform, agent: httpx.Client
) -> None:
    link = place_new_question(platform, agent)
    slug = question_of(link)
    with LtiBrowser(timeout=30) as learner_browser:
        page = launch_link(platform, learner_browser, link, user=LEARNER)
        assert page.status_code == 200, page.text
        assert PROMPT in page.text
        assert 'name="answer"' in page.text
        assert 'data-word-count="word-count"' in page.text
        assert f"frame-ancestors {platform.issuer}" in page.headers["content-security-policy"]

        feedback = answer(platform, learner_browser, page, GOOD_ANSWER)
        assert feedback.status_code == 200
        assert "text/html" in feedback.headers["content-type"]
        assert f"frame-ancestors {platform.issuer}" in feedback.headers["content-security-policy"]

        [stored] = submissions_of(tool, slug)
        assert stored["learner_id"] == LEARNER.sub
        [score] = scores_for(platform, link["lineitem_id"], 1)
        assert score["userId"] == LEARNER.sub
        assert score["scoreGiven"] == pytest.approx(stored["points"])
        assert score["scoreMaximum"] == stored["max_points"] == 10
        assert score["activityProgress"] == "Submitted"
        expected_progress = "PendingManual" if stored["needs_review"] else "FullyGraded"
        assert score["gradingProgress"] == expected_progress
        assert score["comment"] == stored["result"]["summary"]
        assert datetime.fromisoformat(score["timestamp"]).tzinfo is not None

        override = tool.api.post(
            f"/v1/submissions/{stored['id']}/overrides",
            json={"points": 9.5, "reason": "Explains the trade clearly."},
        )
        assert override.status_code == 201, override.text
        scores = scores_for(platform, link["lineitem_id"], 2)
        assert scores[1]["scoreGiven"] == 9.5
        assert scores[1]["gradingProgress"] == "FullyGraded"
        assert "set the score to 9.5 out of 10" in scores[1]["comment"]
        assert scores[1]["timestamp"] > scores[0]["timestamp"]
        # The AGS token was got with a signed assertion (the platform checked it) and reused.
        assert len(platform.token_requests) == 1
        # The admin sees the gradebook outbox: both scores delivered, newest first.
        [registered] = tool.api.get("/v1/lti/platforms").json()["items"]
        path = f"/v1/lti/platforms/{registered['id']}/scores"

        def delivered() -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = tool.api.get(path).json()["items"]
            return items if [r["status"] for r in items] == ["delivered"] * 2 else None

        outbox = wait_for(delivered, "both scores recorded as delivered")
        assert outbox[0]["url"] == link["lineitem_id"] + "/scores"
        assert outbox[0]["attempt_log"][-1]["status_code"] == 200


def test_a_rescore_reposts_every_changed_score(
    tool: Tool, platform: LtiPlatform, agent: httpx.Client
) -> None:
    link = place_new_question(platform, agent)
    slug = question_of(link)
    learners = [PlatformUser(sub=f"s{i}", name=f"S {i}", roles=(ROLE_LEARNER,)) for i in range(3)]
    answers = [GOOD_ANSWER, "They talked in secret about Turkey.", "A blockade of Cuba."]
    for user, text in zip(learners, answers, strict=True):
        with LtiBrowser(timeout=30) as student:
            page = launch_link(platform, student, link, user=user)
            assert answer(platform, student, page, text).status_code == 200
    first = scores_for(platform, link["lineitem_id"], 3)[:3]

    rubric = tool.api.get(f"/v1/questions/{slug}").json()
    saved = tool.api.put(
        f"/v1/questions/{slug}/rubric",
        json={
            "title": rubric["title"],
            "prompt": rubric["prompt"],
            "max_points": 20,
            "reference_answers": ["They negotiated in secret and avoided a nuclear war."],
        },
    )
    assert saved.status_code == 200, saved.text
    job = tool.api.post(f"/v1/questions/{slug}/rescore")
    assert job.status_code == 202, job.text
    done = wait_for(
        lambda: (
            body
            if (body := tool.api.get(f"/v1/jobs/{job.json()['id']}").json())["status"]
            == "succeeded"
            else None
        ),
        "the rescore job",
    )
    assert done["processed"] == 3
    rescored = {s["learner_id"]: s for s in submissions_of(tool, slug)}
    before = {s["userId"]: s for s in first}
    changed = [sub for sub, s in rescored.items() if s["points"] != before[sub]["scoreGiven"]]
    assert changed, "the new rubric should change some scores"
    reposted = scores_for(platform, link["lineitem_id"], 3 + len(rescored))[3:]
    latest = {s["userId"]: s for s in reposted}
    for sub in changed:
        assert latest[sub]["scoreGiven"] == pytest.approx(rescored[sub]["points"])
        assert latest[sub]["scoreMaximum"] == 20


def test_one_attempt_by_default_then_the_highest_of_several(
    tool: Tool, platform: LtiPlatform, agent: httpx.Client
) -> None:
    link = place_new_question(platform, agent)
    slug = question_of(link)
    with LtiBrowser(timeout=30) as student:
        page = launch_link(platform, student, link, user=LEARNER)
        assert answer(platform, student, page, GOOD_ANSWER).status_code == 200
        # The same form again (a double click, a reload): nothing new is stored.
        again = platform.submit_form(student, page, fields={"answer": "Something else."})
        assert again.status_code == 303
        assert len(submissions_of(tool, slug)) == 1
        # Launching again shows the feedback, not an empty form.
        relaunch = launch_link(platform, student, link, user=LEARNER)
        assert relaunch.status_code == 303
        assert relaunch.headers["location"].startswith("/v1/feedback/")

        setting = tool.api.put(
            f"/v1/questions/{slug}/attempts",
            json={"max_attempts": 3, "attempt_policy": "highest"},
        )
        assert setting.status_code == 200, setting.text
        page = launch_link(platform, student, link, user=LEARNER)
        assert "Attempt 2 of 3" in page.text
        assert answer(platform, student, page, "A blockade.").status_code == 200
    stored = submissions_of(tool, slug)
    assert len(stored) == 2
    best = max(s["points"] for s in stored)
    outbox = settled_outbox(tool)
    # Each answer queued a score; one queued while the other was still on its way replaces
    # it (or the platform refuses the older one): none is left failing, the newest counts.
    assert "failed" not in {row["status"] for row in outbox}
    assert "delivered" in {row["status"] for row in outbox}
    assert platform.scores[link["lineitem_id"]][-1]["scoreGiven"] == pytest.approx(best)


def test_answers_in_quick_succession_leave_the_gradebook_with_the_last(
    tool: Tool, platform: LtiPlatform, agent: httpx.Client
) -> None:
    link = place_new_question(platform, agent)
    slug = question_of(link)
    setting = tool.api.put(
        f"/v1/questions/{slug}/attempts", json={"max_attempts": 3, "attempt_policy": "last"}
    )
    assert setting.status_code == 200, setting.text
    with LtiBrowser(timeout=30) as student:
        for text in (GOOD_ANSWER, "A blockade.", "They talked in secret through Dobrynin."):
            page = launch_link(platform, student, link, user=LEARNER)
            assert answer(platform, student, page, text).status_code == 200
    newest = max(submissions_of(tool, slug), key=lambda s: str(s["created_at"]))
    outbox = settled_outbox(tool)
    assert "failed" not in {row["status"] for row in outbox}
    received = platform.scores[link["lineitem_id"]]
    assert received[-1]["scoreGiven"] == pytest.approx(newest["points"])
    stamps = [r["timestamp"] for r in received]
    assert stamps == sorted(stamps), "the platform recorded an older score after a newer one"


def test_an_instructor_launch_opens_the_console_on_the_question(
    tool: Tool, platform: LtiPlatform, agent: httpx.Client
) -> None:
    link = place_new_question(platform, agent)
    slug = question_of(link)
    ta = PlatformUser(sub="ta-1", name="Tia Assistant", roles=(ROLE_TA,))
    with LtiBrowser(timeout=30) as ta_browser:
        page = launch_link(platform, ta_browser, link, user=ta)
        assert page.status_code == 200, page.text
        assert "Open the console" in page.text
        opened = platform.submit_form(ta_browser, page)
        assert opened.status_code == 303, opened.text
        assert opened.headers["location"] == f"/console/questions/{slug}"
        console = ta_browser.get(tool.base_url + opened.headers["location"])
        assert console.status_code == 200, console.text
        assert "Secret talks" in console.text
        assert "Tia Assistant (LMS)" in console.text
        # The session is for that course only: the default course's questions are not there.
        other = ta_browser.get(f"{tool.base_url}/console/questions/backchannel-q1")
        assert other.status_code == 404
        # The launch's token signs in once.
        assert platform.submit_form(ta_browser, page).status_code == 400


def test_the_launch_works_without_cookies_and_refuses_a_state_cookie_of_another_login(
    tool: Tool, platform: LtiPlatform, agent: httpx.Client
) -> None:
    """Inside an LMS iframe the browser may drop third-party cookies: the signed state
    alone carries the launch. When a state cookie does come back, it must match."""
    link = place_new_question(platform, agent)

    class NoCookies(httpx.Client):
        def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            self.cookies.clear()
            request.headers.pop("cookie", None)
            return super().send(request, **kwargs)

    with NoCookies(timeout=30) as cookieless:
        page = launch_link(platform, cookieless, link, user=LEARNER)
        assert page.status_code == 200, page.text
        assert answer(platform, cookieless, page, GOOD_ANSWER).status_code == 200

    launches = tool.count(LtiLaunch)
    # A plain client (it sends every cookie it has, as an old browser would).
    with httpx.Client(timeout=30) as stale:

        def keep_stale_cookie(claims: dict[str, Any]) -> str:
            # The state cookie the login just set is replaced by one of another login.
            stale.cookies.clear()
            stale.cookies.set(
                "grader_lti_state", "a-state-of-another-login", domain="127.0.0.1", path="/lti/"
            )
            return platform.sign_id_token(claims)

        refused = launch_link(
            platform, stale, link, user=LEARNER, replace_id_token=keep_stale_cookie
        )
        assert refused.status_code == 400
        assert "another browser window" in refused.text
    assert tool.count(LtiLaunch) == launches


def test_dynamic_registration_registers_the_platform_under_the_admins_organisation(
    tool: Tool, agent: httpx.Client
) -> None:
    invite = tool.api.post("/v1/lti/registrations")
    assert invite.status_code == 201, invite.text
    url = invite.json()["url"]
    assert url.startswith(f"{tool.base_url}/lti/register?invite=")
    with LtiPlatform.start() as lms:
        answered = lms.start_dynamic_registration(agent, url)
        assert answered.status_code == 200, answered.text
        assert "The LMS is registered" in answered.text
        [sent] = lms.registrations
        assert sent["initiate_login_uri"] == f"{tool.base_url}/lti/login"
        assert sent["jwks_uri"] == f"{tool.base_url}/.well-known/jwks.json"
        assert sent["token_endpoint_auth_method"] == "private_key_jwt"
        assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in sent["scope"].split()
        [platform] = tool.api.get("/v1/lti/platforms").json()["items"]
        assert platform["registered_by"] == "dynamic"
        assert platform["client_id"] == lms.client_id
        assert platform["deployment_ids"] == [lms.deployment_id]
        # Used once.
        again = lms.start_dynamic_registration(agent, url)
        assert again.status_code == 400
        assert "already used" in again.text
        # And the platform it registered launches.
        link = place_new_question(lms, agent)
        assert link["lineitem_id"]


def test_a_registration_url_without_its_invitation_registers_nothing(
    tool: Tool, agent: httpx.Client
) -> None:
    with LtiPlatform.start() as lms:
        answered = lms.start_dynamic_registration(agent, f"{tool.base_url}/lti/register")
    assert answered.status_code == 400
    assert "no invitation" in answered.text
    assert lms.registrations == []
    assert tool.api.get("/v1/lti/platforms").json()["items"] == []


def test_key_rotation_keeps_the_old_key_published_and_signs_with_the_new(
    tool: Tool, platform: LtiPlatform, agent: httpx.Client
) -> None:
    before = httpx.get(f"{tool.base_url}/.well-known/jwks.json").json()["keys"]
    assert [k["kty"] for k in before] == ["RSA"]
    assert int.bit_length(int.from_bytes(b64_bytes(before[0]["n"]), "big")) >= 2048
    rotated = tool.api.post("/v1/lti/keys/rotate")
    assert rotated.status_code == 201, rotated.text
    after = httpx.get(f"{tool.base_url}/.well-known/jwks.json").json()["keys"]
    assert {k["kid"] for k in after} == {before[0]["kid"], rotated.json()["kid"]}
    # What is signed now verifies at the platform with the new key.
    place_new_question(platform, agent)
    assert platform.deep_link_responses  # verified by the platform against our key set


def test_a_platform_of_another_organisation_sees_only_its_own(
    tool: Tool, platform: LtiPlatform, agent: httpx.Client
) -> None:
    link = place_new_question(platform, agent)
    made = tool.api.post("/v1/organizations", json={"id": "other-school", "name": "Other"})
    assert made.status_code == 201, made.text
    with tool.client(made.json()["admin_key"]["key"]) as other_admin, LtiPlatform.start() as other:
        other.register_tool(tool.base_url)
        register_manually(tool, other, api=other_admin)
        # A link naming the first school's question is refused: that id does not exist here.
        refused = launch_link(other, agent, link, user=LEARNER)
        assert refused.status_code == 400
        assert "not linked to a question" in refused.text
        assert other_admin.get("/v1/lti/platforms").json()["items"][0]["issuer"] == other.issuer
        # Each admin sees only their organisation's platforms.
        assert [p["issuer"] for p in tool.api.get("/v1/lti/platforms").json()["items"]] == [
            platform.issuer
        ]
    assert tool.count(Submission) == 0


def test_held_back_feedback_reaches_the_gradebook_when_released(
    tool: Tool, platform: LtiPlatform, agent: httpx.Client
) -> None:
    link = place_new_question(platform, agent)
    slug = question_of(link)
    mode = tool.api.put(f"/v1/questions/{slug}/feedback-release", json={"mode": "manual"})
    assert mode.status_code == 200, mode.text
    with LtiBrowser(timeout=30) as student:
        page = launch_link(platform, student, link, user=LEARNER)
        received = answer(platform, student, page, GOOD_ANSWER)
        assert received.status_code == 200
    [held] = scores_for(platform, link["lineitem_id"], 1)
    # Before release the gradebook learns only that the answer was submitted.
    assert held["gradingProgress"] == "Pending"
    assert "scoreGiven" not in held
    assert "comment" not in held
    released = tool.api.post(f"/v1/questions/{slug}/feedback-release/release")
    assert released.status_code == 200, released.text
    [stored] = submissions_of(tool, slug)
    shown = scores_for(platform, link["lineitem_id"], 2)[1]
    assert shown["scoreGiven"] == pytest.approx(stored["points"])
    assert shown["gradingProgress"] in ("FullyGraded", "PendingManual")
