"""Steps the LTI tests share: a teacher placing a question through deep linking, a learner
answering a placed activity."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.lti.platform import (
    MESSAGE_DEEP_LINKING,
    ROLE_INSTRUCTOR,
    ROLE_LEARNER,
    LtiPlatform,
    PlatformUser,
)

TEACHER = PlatformUser(sub="teacher-1", name="Ada Teacher", roles=(ROLE_INSTRUCTOR,))
LEARNER = PlatformUser(sub="learner-1", name="Lee Learner", roles=(ROLE_LEARNER,))
PROMPT = "Why did Kennedy and Khrushchev use a secret channel during the crisis?"
REFERENCE = (
    "The secret backchannel let both leaders negotiate privately, without public pressure, "
    "and trade the removal of missiles in Turkey for the withdrawal of missiles from Cuba."
)


def place_new_question(
    platform: LtiPlatform,
    browser: httpx.Client,
    *,
    title: str = "Secret talks",
    points: str = "10",
    context_id: str = "course-1",
) -> dict[str, Any]:
    """A teacher's deep-linking round trip creating a question; the link the platform made."""
    picker = platform.launch(
        browser, user=TEACHER, message_type=MESSAGE_DEEP_LINKING, context_id=context_id
    )
    assert picker.status_code == 200, picker.text
    create_form = 1 if 'name="question_id"' in picker.text else 0
    handoff = platform.submit_form(
        browser,
        picker,
        form_index=create_form,
        fields={"title": title, "prompt": PROMPT, "reference": REFERENCE, "points": points},
    )
    assert handoff.status_code == 200, handoff.text
    back = platform.submit_form(browser, handoff)
    assert back.status_code == 200, back.text
    link_id = f"dl-link-{len(platform.resource_links)}"
    return {"id": link_id, **platform.resource_links[link_id]}


def launch_link(
    platform: LtiPlatform,
    agent: httpx.Client,
    link: dict[str, Any],
    *,
    user: PlatformUser,
    replace_id_token: Callable[[dict[str, Any]], str] | None = None,
) -> httpx.Response:
    """A launch of a placed activity; ``replace_id_token`` posts another id_token instead
    of the one the platform signed (see ``LtiPlatform.launch``)."""
    item = link["content_item"]
    return platform.launch(
        agent,
        user=user,
        context_id=link["context_id"],
        resource_link_id=link["id"],
        custom=item.get("custom"),
        lineitem_id=link["lineitem_id"],
        target_link_uri=item.get("url"),
        replace_id_token=replace_id_token,
    )


def b64_bytes(text: str) -> bytes:
    """A JWK member (base64url without padding) as bytes."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def answer(
    platform: LtiPlatform, browser: httpx.Client, page: httpx.Response, text: str
) -> httpx.Response:
    """Submit the answer page; the feedback page it leads to (followed on the tool)."""
    posted = platform.submit_form(browser, page, fields={"answer": text})
    assert posted.status_code == 303, posted.text
    location = posted.headers["location"]
    assert location.startswith("/v1/feedback/"), location
    base = f"{urlsplit(str(posted.url)).scheme}://{urlsplit(str(posted.url)).netloc}"
    return browser.get(base + location, headers={"accept": "text/html"})
