"""Forged and replayed launches, against the real platform: each one is refused with a
page saying why, and stores nothing (no launch, no course, no submission, no session).
Plus the outbound rules for a platform's URLs, and what a learner's launch can never do."""

from __future__ import annotations

import html
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from service.db.models import Course, LtiLaunch, LtiNonce, Submission, WebSession
from tests.lti.conftest import Tool, register_manually
from tests.lti.helpers import LEARNER, TEACHER, launch_link, place_new_question
from tests.lti.platform import (
    CLAIM_DEPLOYMENT_ID,
    CLAIM_MESSAGE_TYPE,
    CLAIM_VERSION,
    LtiBrowser,
    LtiPlatform,
    new_rsa_key_pem,
    parse_forms,
)

Forge = Callable[[LtiPlatform, dict[str, Any]], str]
RESOURCE_LINK = "https://purl.imsglobal.org/spec/lti/claim/resource_link"


def _public_pem(platform: LtiPlatform) -> bytes:
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(platform.private_key_pem, password=None)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _without(name: str) -> Forge:
    return lambda p, c: p.sign_id_token({k: v for k, v in c.items() if k != name})


FORGERIES: dict[str, tuple[Forge, str]] = {
    "alg none": (lambda p, c: p.sign_id_token(c, alg="none"), "only RS256"),
    "HS256 keyed with the platform's public key": (
        lambda p, c: p.sign_id_token(c, alg="HS256", key_pem=_public_pem(p)),
        "only RS256",
    ),
    "signed by another key under the platform's kid": (
        lambda p, c: p.sign_id_token(c, key_pem=new_rsa_key_pem(), kid=p.kid),
        "signature does not verify",
    ),
    "signed by a key the platform does not publish": (
        lambda p, c: p.sign_id_token(c, key_pem=new_rsa_key_pem(), kid="unknown-kid"),
        "does not publish",
    ),
    "another issuer": (
        lambda p, c: p.sign_id_token({**c, "iss": "https://evil.example"}),
        "another platform",
    ),
    "another audience": (
        lambda p, c: p.sign_id_token({**c, "aud": "some-other-tool"}),
        "another tool",
    ),
    "several audiences without azp": (
        lambda p, c: p.sign_id_token(
            {**{k: v for k, v in c.items() if k != "azp"}, "aud": [p.client_id, "other"]}
        ),
        "azp",
    ),
    "azp of another tool": (
        lambda p, c: p.sign_id_token({**c, "aud": [p.client_id, "x"], "azp": "x"}),
        "azp",
    ),
    "expired": (
        lambda p, c: p.sign_id_token({**c, "iat": c["iat"] - 900, "exp": c["iat"] - 600}),
        "expired",
    ),
    "issued in the future": (
        lambda p, c: p.sign_id_token({**c, "iat": c["iat"] + 900, "exp": c["exp"] + 900}),
        "future",
    ),
    "issued long ago": (
        lambda p, c: p.sign_id_token({**c, "iat": c["iat"] - 3600}),
        "too long ago",
    ),
    "another nonce": (lambda p, c: p.sign_id_token({**c, "nonce": "not-ours"}), "nonce"),
    "no nonce": (_without("nonce"), "nonce"),
    "an unregistered deployment": (
        lambda p, c: p.sign_id_token({**c, CLAIM_DEPLOYMENT_ID: "deployment-9"}),
        "deployment",
    ),
    "an unknown message type": (
        lambda p, c: p.sign_id_token({**c, CLAIM_MESSAGE_TYPE: "LtiSubmissionReviewRequest"}),
        "does not accept",
    ),
    "LTI 1.1": (lambda p, c: p.sign_id_token({**c, CLAIM_VERSION: "1.1"}), "1.3.0"),
    "no user": (_without("sub"), "no user"),
    "no resource link": (_without(RESOURCE_LINK), "resource link"),
    "not a JWT": (lambda p, c: "not-a-jwt", "not a JWT"),
}


def _stored(tool: Tool) -> dict[str, int]:
    return {
        model.__tablename__: tool.count(model)
        for model in (LtiLaunch, LtiNonce, Course, Submission, WebSession)
    }


@pytest.fixture
def placed(tool: Tool, platform: LtiPlatform, agent: httpx.Client) -> dict[str, Any]:
    return place_new_question(platform, agent)


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_a_forged_launch_is_refused_with_a_page_and_stores_nothing(
    name: str, tool: Tool, platform: LtiPlatform, placed: dict[str, Any]
) -> None:
    forge, reason = FORGERIES[name]
    before = _stored(tool)
    with LtiBrowser(timeout=30) as agent:
        response = launch_link(
            platform,
            agent,
            placed,
            user=LEARNER,
            replace_id_token=lambda claims: forge(platform, claims),
        )
    assert response.status_code in (400, 403), response.text
    assert "text/html" in response.headers["content-type"]
    assert reason in html.unescape(response.text)
    # The error page is shown inside the LMS's iframe.
    assert "frame-ancestors *" in response.headers["content-security-policy"]
    assert _stored(tool) == before


def test_a_replayed_id_token_is_refused(
    tool: Tool, platform: LtiPlatform, placed: dict[str, Any]
) -> None:
    kept: dict[str, str] = {}

    def keep(claims: dict[str, Any]) -> str:
        kept["token"] = platform.sign_id_token(claims)
        return kept["token"]

    with LtiBrowser(timeout=30) as agent:
        first = launch_link(platform, agent, placed, user=LEARNER, replace_id_token=keep)
        assert first.status_code == 200, first.text
        state = platform.auth_requests[-1]["state"]
        launches = tool.count(LtiLaunch)
        # The same form_post again: the state is still valid, the nonce is not.
        again = agent.post(
            f"{tool.base_url}/lti/launch", data={"id_token": kept["token"], "state": state}
        )
    assert again.status_code == 400
    assert "already used" in again.text
    assert tool.count(LtiLaunch) == launches


def test_a_launch_with_a_tampered_or_missing_state_is_refused(
    tool: Tool, platform: LtiPlatform, placed: dict[str, Any], agent: httpx.Client
) -> None:
    before = _stored(tool)
    token = platform.sign_id_token(platform.valid_id_token_claims(LEARNER, "n-1"))
    for state, reason in (("", "no state"), ("abc.def.ghi", "not made by this tool")):
        answered = agent.post(
            f"{tool.base_url}/lti/launch", data={"id_token": token, "state": state}
        )
        assert answered.status_code == 400
        assert reason in answered.text
    assert _stored(tool) == before


def test_a_login_from_an_unregistered_platform_is_refused(tool: Tool, agent: httpx.Client) -> None:
    answered = agent.post(
        f"{tool.base_url}/lti/login",
        data={
            "iss": "https://unknown.example",
            "login_hint": "u1",
            "target_link_uri": f"{tool.base_url}/lti/launch",
        },
    )
    assert answered.status_code == 400
    assert "not registered" in answered.text


def test_a_login_whose_target_is_another_site_is_refused(
    tool: Tool, platform: LtiPlatform, agent: httpx.Client
) -> None:
    answered = platform.launch(agent, user=LEARNER, target_link_uri="https://evil.example/x")
    assert answered.status_code == 400
    assert "not a page of this tool" in answered.text


def test_a_learner_launch_never_opens_the_console_nor_the_picker(
    tool: Tool, platform: LtiPlatform, placed: dict[str, Any]
) -> None:
    with LtiBrowser(timeout=30) as student:
        page = launch_link(platform, student, placed, user=LEARNER)
        assert page.status_code == 200
        assert "/lti/console" not in page.text
        token = dict(parse_forms(page.text, str(page.url))[0].fields)["launch"]
        console = student.post(f"{tool.base_url}/lti/console", data={"launch": token})
        assert console.status_code == 403
        assert "for the course's teachers" in html.unescape(console.text)
        assert student.get(f"{tool.base_url}/console").status_code in (303, 307)
        picker = student.post(
            f"{tool.base_url}/lti/deep-link", data={"launch": token, "question_id": "x"}
        )
        assert picker.status_code in (403, 404)
        dl = platform.launch(student, user=LEARNER, message_type="LtiDeepLinkingRequest")
        assert dl.status_code == 403
    assert tool.count(WebSession) == 0


def test_a_teacher_cannot_answer_as_a_learner(
    tool: Tool, platform: LtiPlatform, placed: dict[str, Any], agent: httpx.Client
) -> None:
    page = launch_link(platform, agent, placed, user=TEACHER)
    token = dict(parse_forms(page.text, str(page.url))[0].fields)["launch"]
    answered = agent.post(f"{tool.base_url}/lti/answer", data={"launch": token, "answer": "Hi."})
    assert answered.status_code == 403
    assert tool.count(Submission) == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/jwks",
        "http://192.168.0.7/jwks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/jwks",
    ],
)
def test_a_platform_url_to_an_internal_address_is_refused_at_registration(
    tool: Tool, url: str
) -> None:
    response = tool.api.post(
        "/v1/lti/platforms",
        json={
            "name": "Internal",
            "issuer": "https://lms.example.edu",
            "client_id": "c1",
            "auth_login_url": url,
            "token_url": url,
            "jwks_url": url,
        },
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("auth_login_url is refused: it resolves to a"), detail
    assert tool.api.get("/v1/lti/platforms").json()["items"] == []


def test_a_key_set_on_a_refused_address_is_never_fetched(tool: Tool, agent: httpx.Client) -> None:
    """127.0.0.2 is loopback but not the tests' allowed 127.0.0.1/32: a platform registered
    with a legitimate URL that later resolves there is not contacted at launch."""
    listener = socket.socket()
    listener.bind(("127.0.0.2", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    connections: list[object] = []

    def accept() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    with LtiPlatform.start() as lms:
        lms.register_tool(tool.base_url)
        platform_id = register_manually(tool, lms)
        # The admin's URL was fine; now the key set is said to live at 127.0.0.2.
        with tool.engine.begin() as connection:
            from sqlalchemy import update

            from service.db.models import LtiPlatform as PlatformRow

            connection.execute(update(PlatformRow).values(jwks_url=f"http://127.0.0.2:{port}/jwks"))
        answered = lms.launch(agent, user=TEACHER, message_type="LtiDeepLinkingRequest")
        assert platform_id
    thread.join()
    listener.close()
    assert answered.status_code == 400
    assert "does not publish" in answered.text
    assert connections == []
