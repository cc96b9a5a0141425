"""The test platform's own strict checks, the ones that need no tool.

The "tool" here is only a registration: its JWKS URL is the platform's own /jwks, so
assertions and deep-linking responses signed with the platform's key verify as the tool's.
One platform serves the module (starting one costs a key and a server); each test uses its
own jti, nonce and users, so the tests do not depend on each other's order.
"""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Iterator
from http.cookiejar import Cookie
from typing import Any

import httpx
import jwt
import pytest

from tests.lti.platform import (
    CLAIM_DEPLOYMENT_ID,
    CLAIM_DL_CONTENT_ITEMS,
    CLAIM_DL_DATA,
    CLAIM_DL_SETTINGS,
    CLAIM_MESSAGE_TYPE,
    CLAIM_VERSION,
    CLIENT_ASSERTION_TYPE,
    MEDIA_SCORE,
    MESSAGE_DEEP_LINKING,
    ROLE_LEARNER,
    SCOPE_LINEITEM,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
    TOOL_CONFIGURATION,
    LtiBrowser,
    LtiPlatform,
    PlatformUser,
    new_rsa_key_pem,
    parse_forms,
)

TOOL = "http://127.0.0.1:9"  # never contacted: nothing listens on the discard port
LEARNER = PlatformUser(sub="u-learner", name="Lee Learner", roles=(ROLE_LEARNER,))


@pytest.fixture(scope="module")
def platform() -> Iterator[LtiPlatform]:
    with LtiPlatform.start() as started:
        started.register_tool(TOOL, jwks_url=started.jwks_url)
        yield started


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    # One client for the module: building one costs ~35 ms (its SSL context).
    with httpx.Client(timeout=10) as client:
        yield client


def assertion(platform: LtiPlatform, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": platform.client_id,
        "sub": platform.client_id,
        "aud": platform.token_url,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
        **changes,
    }
    return platform.sign_id_token({k: v for k, v in claims.items() if v is not None})


def token_request(
    http: httpx.Client, platform: LtiPlatform, scope: str, signed: str
) -> httpx.Response:
    return http.post(
        platform.token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": signed,
            "scope": scope,
        },
    )


def access_token(http: httpx.Client, platform: LtiPlatform, scope: str) -> str:
    response = token_request(http, platform, scope, assertion(platform))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "someone-else"}, "Invalid issuer"),
        ({"sub": "someone-else"}, "Invalid subject"),
        ({"aud": "http://127.0.0.1:1/token"}, "Audience doesn't match"),
        ({"exp": None}, 'missing the "exp" claim'),
        ({"jti": None}, 'missing the "jti" claim'),
        ({"exp": int(time.time()) - 60}, "expired"),
    ],
)
def test_token_refuses_assertion_with_bad_claim(
    platform: LtiPlatform, http: httpx.Client, changes: dict[str, Any], reason: str
) -> None:
    response = token_request(http, platform, SCOPE_SCORE, assertion(platform, **changes))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert reason in response.json()["error_description"]
    assert platform.token_requests[-1]["error"] == response.json()["error_description"]


def test_token_refuses_replayed_jti_foreign_key_and_hs256(
    platform: LtiPlatform, http: httpx.Client
) -> None:
    signed = assertion(platform)
    assert token_request(http, platform, SCOPE_SCORE, signed).status_code == 200
    replay = token_request(http, platform, SCOPE_SCORE, signed)
    claims = {"iss": platform.client_id, "sub": platform.client_id, "aud": platform.token_url}
    foreign = platform.sign_id_token(claims, key_pem=new_rsa_key_pem(), kid=platform.kid)
    confused = platform.sign_id_token(claims, alg="HS256", key_pem=platform.private_key_pem)

    assert replay.status_code == 401
    assert "jti was used before" in replay.json()["error_description"]
    foreign_answer = token_request(http, platform, SCOPE_SCORE, foreign)
    assert foreign_answer.status_code == 401
    assert "Signature verification failed" in foreign_answer.json()["error_description"]
    assert token_request(http, platform, SCOPE_SCORE, confused).json() == {
        "error": "invalid_client",
        "error_description": "alg must be RS256, not 'HS256'",
    }


def test_token_refuses_scope_outside_ags_and_wrong_grant(
    platform: LtiPlatform, http: httpx.Client
) -> None:
    nrps = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
    wrong_scope = token_request(http, platform, f"{SCOPE_SCORE} {nrps}", assertion(platform))
    wrong_grant = http.post(
        platform.token_url,
        data={
            "grant_type": "password",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion(platform),
            "scope": SCOPE_SCORE,
        },
    )

    assert (wrong_scope.status_code, wrong_scope.json()["error"]) == (400, "invalid_scope")
    assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (400, "unsupported_grant_type")


def test_token_grant_is_bearer_with_requested_scopes(
    platform: LtiPlatform, http: httpx.Client
) -> None:
    response = token_request(http, platform, f"{SCOPE_SCORE} {SCOPE_LINEITEM}", assertion(platform))

    body = response.json()
    assert response.status_code == 200
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert body["scope"] == f"{SCOPE_SCORE} {SCOPE_LINEITEM}"


def score(user_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "userId": user_id,
        "scoreGiven": 3,
        "scoreMaximum": 4,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": "2026-12-02T10:00:00.000+00:00",
        **changes,
    }


def post_score(http: httpx.Client, url: str, token: str, body: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": MEDIA_SCORE}
    return http.post(f"{url}/scores", json=body, headers=headers)


def test_scores_need_the_score_scope_and_a_known_token(
    platform: LtiPlatform, http: httpx.Client
) -> None:
    platform.prepare_launch(user=LEARNER)  # the platform now knows the learner
    lineitem = platform.create_lineitem(label="Q", score_maximum=4, resource_link_id="link-1")
    read_only = access_token(http, platform, SCOPE_RESULT_READONLY)

    no_scope = post_score(http, lineitem, read_only, score(LEARNER.sub))
    unknown = post_score(http, lineitem, "not-a-token", score(LEARNER.sub))
    results = http.get(f"{lineitem}/results", headers={"Authorization": f"Bearer {read_only}"})

    assert (no_scope.status_code, no_scope.json()["error"]) == (403, "insufficient_scope")
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_token")
    assert (results.status_code, results.json()) == (200, [])
    assert lineitem not in platform.scores


@pytest.mark.parametrize(
    "changes",
    [
        {"scoreGiven": 5},
        {"activityProgress": "Done"},
        {"gradingProgress": "Graded"},
        {"timestamp": "2026-12-02 10:00"},
        {"timestamp": "2026-12-02T10:00:00"},
        {"userId": "u-never-launched"},
    ],
)
def test_scores_refuse_invalid_body(
    platform: LtiPlatform, http: httpx.Client, changes: dict[str, Any]
) -> None:
    platform.prepare_launch(user=LEARNER)
    lineitem = platform.create_lineitem(label="Q", score_maximum=4, resource_link_id="link-1")
    token = access_token(http, platform, SCOPE_SCORE)

    response = post_score(http, lineitem, token, score(LEARNER.sub, **changes))

    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    assert lineitem not in platform.scores


def test_scores_records_valid_and_refuses_older_timestamp_and_expired_token(
    platform: LtiPlatform, http: httpx.Client
) -> None:
    platform.prepare_launch(user=LEARNER)
    lineitem = platform.create_lineitem(label="Q", score_maximum=8, resource_link_id="link-1")
    token = access_token(http, platform, f"{SCOPE_SCORE} {SCOPE_RESULT_READONLY}")

    accepted = post_score(http, lineitem, token, score(LEARNER.sub))
    older = post_score(http, lineitem, token, score(LEARNER.sub, timestamp="2026-12-01T10:00Z"))
    results = http.get(f"{lineitem}/results", headers={"Authorization": f"Bearer {token}"})
    platform.expire_access_tokens()
    expired = post_score(http, lineitem, token, score(LEARNER.sub))

    assert accepted.status_code == 200
    assert older.status_code == 409
    assert platform.scores[lineitem] == [score(LEARNER.sub)]
    assert [(r["userId"], r["resultScore"]) for r in results.json()] == [(LEARNER.sub, 6.0)]
    assert expired.status_code == 401
    assert "expired" in expired.json()["error_description"]


def auth_params(platform: LtiPlatform, **changes: str) -> dict[str, str]:
    login = platform.prepare_launch(user=LEARNER)
    params = {
        "response_type": "id_token",
        "response_mode": "form_post",
        "scope": "openid",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": f"{TOOL}/lti/launch",
        "login_hint": LEARNER.sub,
        "lti_message_hint": login.lti_message_hint,
        "nonce": uuid.uuid4().hex,
        "state": "state-1",
    }
    return {**params, **changes}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"redirect_uri": f"{TOOL}/elsewhere"}, "redirect_uri is not a registered one"),
        ({"login_hint": "u-someone-else"}, "login_hint is not the user being launched"),
        ({"lti_message_hint": "made-up"}, "lti_message_hint is unknown or used"),
        ({"response_mode": "query"}, "response_mode must be 'form_post'"),
        ({"nonce": ""}, "nonce is missing"),
    ],
)
def test_auth_refuses_bad_authentication_request(
    platform: LtiPlatform, http: httpx.Client, changes: dict[str, str], reason: str
) -> None:
    response = http.get(platform.auth_login_url, params=auth_params(platform, **changes))

    assert (response.status_code, response.text) == (400, reason)


def test_auth_posts_a_verifiable_id_token_to_the_redirect_uri_once(
    platform: LtiPlatform, http: httpx.Client
) -> None:
    params = auth_params(platform)

    first = http.get(platform.auth_login_url, params=params)
    again = http.get(platform.auth_login_url, params={**params, "nonce": "another"})

    [form] = parse_forms(first.text, str(first.url))
    fields = dict(form.fields)
    key = jwt.PyJWKClient(platform.jwks_url).get_signing_key_from_jwt(fields["id_token"])
    claims = jwt.decode(fields["id_token"], key, algorithms=["RS256"], audience=platform.client_id)
    assert (form.action, form.method, fields["state"]) == (f"{TOOL}/lti/launch", "POST", "state-1")
    assert (claims["sub"], claims["nonce"]) == (LEARNER.sub, params["nonce"])
    assert claims[CLAIM_DEPLOYMENT_ID] == platform.deployment_id
    assert again.status_code == 400


def deep_link_response(platform: LtiPlatform, data: str, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": platform.client_id,
        "aud": platform.issuer,
        "iat": now,
        "exp": now + 60,
        "nonce": uuid.uuid4().hex,
        CLAIM_MESSAGE_TYPE: "LtiDeepLinkingResponse",
        CLAIM_VERSION: "1.3.0",
        CLAIM_DEPLOYMENT_ID: platform.deployment_id,
        CLAIM_DL_DATA: data,
        CLAIM_DL_CONTENT_ITEMS: [{"type": "ltiResourceLink", "title": "Q1"}],
        **changes,
    }
    return platform.sign_id_token(claims)


def test_deep_link_return_checks_data_and_items(platform: LtiPlatform, http: httpx.Client) -> None:
    request = platform.valid_id_token_claims(LEARNER, "n-dl", message_type=MESSAGE_DEEP_LINKING)
    data = request[CLAIM_DL_SETTINGS]["data"]
    two = [{"type": "ltiResourceLink"}, {"type": "ltiResourceLink"}]
    refused = {
        "forged data": deep_link_response(platform, "opaque-forged"),
        "two items": deep_link_response(platform, data, **{CLAIM_DL_CONTENT_ITEMS: two}),
        "html item": deep_link_response(
            platform, data, **{CLAIM_DL_CONTENT_ITEMS: [{"type": "html", "html": "<p>"}]}
        ),
        "wrong aud": deep_link_response(platform, data, aud=platform.client_id),
        "not a jwt": "garbage",
    }
    answers = {
        name: http.post(platform.deep_link_return_url, data={"JWT": token}).status_code
        for name, token in refused.items()
    }
    accepted = http.post(
        platform.deep_link_return_url, data={"JWT": deep_link_response(platform, data)}
    )

    assert answers == dict.fromkeys(refused, 400)
    assert accepted.status_code == 200
    assert platform.deep_link_responses[-1][CLAIM_DL_DATA] == data


def registration(platform: LtiPlatform, **changes: Any) -> dict[str, Any]:
    body = {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": f"{TOOL}/lti/login",
        "redirect_uris": [f"{TOOL}/lti/launch"],
        "jwks_uri": platform.jwks_url,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": f"{SCOPE_SCORE} {SCOPE_LINEITEM}",
        TOOL_CONFIGURATION: {
            "domain": "127.0.0.1",
            "target_link_uri": f"{TOOL}/lti/launch",
            "messages": [{"type": "LtiResourceLinkRequest"}],
        },
        **changes,
    }
    return body


def test_register_needs_the_registration_token_once(
    platform: LtiPlatform, http: httpx.Client
) -> None:
    token = platform.new_registration_token()
    bearer = {"Authorization": f"Bearer {token}"}

    missing = http.post(platform.registration_url, json=registration(platform))
    invalid = http.post(
        platform.registration_url,
        json=registration(platform, grant_types=["implicit"]),
        headers=bearer,
    )
    accepted = http.post(platform.registration_url, json=registration(platform), headers=bearer)
    reused = http.post(platform.registration_url, json=registration(platform), headers=bearer)
    platform.register_tool(TOOL, jwks_url=platform.jwks_url)  # back to the module's setup

    assert (missing.status_code, missing.json()["error"]) == (401, "invalid_token")
    assert (invalid.status_code, invalid.json()["error"]) == (400, "invalid_client_metadata")
    assert accepted.status_code == 200
    assert accepted.json()["client_id"] == platform.client_id
    assert accepted.json()[TOOL_CONFIGURATION]["deployment_id"] == platform.deployment_id
    assert reused.status_code == 401


def test_parse_forms_submits_what_a_browser_would() -> None:
    page = """
    <form action="/first" method="post"><input type="hidden" name="a" value="1"></form>
    <form action="answer?x=1" method="POST">
      <input name="text" value="t"><input type="checkbox" name="off" value="no">
      <input type="checkbox" name="on" checked><input type="submit" name="go" value="Go">
      <textarea name="answer">
Two &amp; lines</textarea>
      <select name="pick"><option value="p1">One</option><option selected>Two</option></select>
      <input name="disabled" value="d" disabled>
    </form>"""

    first, second = parse_forms(page, "http://127.0.0.1:1/tool/page")

    assert (first.action, first.method, first.fields) == (
        "http://127.0.0.1:1/first",
        "POST",
        (("a", "1"),),
    )
    assert second.action == "http://127.0.0.1:1/tool/answer?x=1"
    assert second.fields == (
        ("text", "t"),
        ("on", "on"),
        ("answer", "Two & lines"),
        ("pick", "Two"),
    )


def cookie(name: str, *, same_site: str | None, secure: bool) -> Cookie:
    rest = {"SameSite": same_site} if same_site else {}
    return Cookie(
        0,
        name,
        "v",
        None,
        False,
        "127.0.0.1",
        False,
        False,
        "/",
        True,
        secure,
        None,
        False,
        None,
        None,
        rest,
    )


def test_lti_browser_sends_cookies_as_a_browser_would() -> None:
    with LtiBrowser() as browser:
        for name, attribute, secure in [
            ("none_secure", "None", True),
            ("lax_secure", "Lax", True),
            ("unset", None, False),
        ]:
            browser.cookie_jar.set_cookie(cookie(name, same_site=attribute, secure=secure))
        insecure_none = cookie("none_insecure", same_site="None", secure=False)

        same_site_request = browser.build_request("POST", "http://127.0.0.1:1/lti/launch")
        browser.cookie_policy.cross_site = True
        cross_site_request = browser.build_request("POST", "http://127.0.0.1:1/lti/launch")

    # Secure goes to loopback over http; a cross-site request carries SameSite=None only;
    # SameSite=None without Secure is not even stored.
    assert sorted(same_site_request.headers["Cookie"].split("; ")) == [
        "lax_secure=v",
        "none_secure=v",
        "unset=v",
    ]
    assert cross_site_request.headers["Cookie"] == "none_secure=v"
    stand_in = urllib.request.Request("http://127.0.0.1:1/lti/login")
    assert not browser.cookie_policy.set_ok(insecure_none, stand_in)
