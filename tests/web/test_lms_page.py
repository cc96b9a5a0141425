"""The admins' LMS page (/console/lms): the platforms listed, one added by hand (valid, an
invalid field, a refused URL, a duplicate), removed after a confirmation, a deployment id
added, the tool's values as the API gives them, and a one-time registration URL that
registers nothing by itself."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from service.db.models import LtiRegistrationInvite
from tests.conftest import ADMIN_KEY, create_key
from tests.web.conftest import console_client, csrf_of

# Loopback URLs pass the tests' outbound rules (http to 127.0.0.1 is allowed) and need no
# DNS; port 9 (discard) is never connected to: registering only checks the addresses.
LMS = "http://127.0.0.1:9"
FORM = {
    "name": "Moodle <prod>",
    "issuer": LMS + "/",
    "client_id": "client-abc",
    "auth_login_url": LMS + "/mod/lti/auth.php",
    "token_url": LMS + "/mod/lti/token.php",
    "jwks_url": LMS + "/mod/lti/certs.php",
    "deployment_ids": " d-1 \n\nd-2\n",
}


def platforms(client: TestClient) -> list[dict[str, Any]]:
    listed = client.get("/v1/lti/platforms")
    assert listed.status_code == 200, listed.text
    return list(listed.json()["items"])


def register(client: TestClient, **changes: Any) -> dict[str, Any]:
    body = {
        "name": "Canvas",
        "issuer": "http://127.0.0.1:8",
        "client_id": "10000000000001",
        "auth_login_url": "http://127.0.0.1:8/api/lti/authorize_redirect",
        "token_url": "http://127.0.0.1:8/login/oauth2/token",
        "jwks_url": "http://127.0.0.1:8/api/lti/security/jwks",
        "deployment_ids": ["1:abc"],
        **changes,
    }
    made = client.post("/v1/lti/platforms", json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


def value_of(page: str, control_id: str) -> str:
    found = re.search(rf'id="{control_id}"[^>]* value="([^"]*)"', page)
    assert found is not None, control_id
    return html.unescape(found[1])


def post_form(browser: TestClient, **changes: str) -> Any:
    token = csrf_of(browser, "/console/lms")
    return browser.post(
        "/console/lms/platforms",
        data={"csrftoken": token, **FORM, **changes},
        follow_redirects=False,
    )


def test_the_page_lists_platforms_and_the_tools_values(client: TestClient, app: FastAPI) -> None:
    made = register(client, name="<b>Canvas</b>")
    browser = console_client(app, ADMIN_KEY)
    page = browser.get("/console/lms")
    assert page.status_code == 200
    assert "no-store" in page.headers["cache-control"]
    assert f'id="lms-{made["id"]}"' in page.text
    assert "&lt;b&gt;Canvas&lt;/b&gt;" in page.text
    assert "<b>Canvas" not in page.text
    for shown in (made["issuer"], made["client_id"], "1:abc", "By hand"):
        assert shown in page.text
    assert f'href="/console/lms/platforms/{made["id"]}/remove"' in page.text
    assert re.search(r'href="/console/lms" aria-current="page"', page.text)
    # The tool's values are the API's, each a labelled read-only control with a Copy button.
    tool = client.get("/v1/lti/tool").json()
    assert tool["login_url"].startswith("http://testserver/")
    for control, key in (
        ("tool-name", "tool_name"),
        ("tool-domain", "domain"),
        ("tool-login-url", "login_url"),
        ("tool-launch-url", "launch_url"),
        ("tool-deep-linking-url", "deep_linking_url"),
        ("tool-jwks-url", "jwks_url"),
    ):
        assert value_of(page.text, control) == tool[key]
        assert f'<label for="{control}">' in page.text
        assert f'data-copy="{control}" hidden' in page.text
    scopes = re.search(r'id="tool-scopes"[^>]*>([^<]*)</textarea>', page.text)
    assert scopes is not None
    assert scopes[1].split() == tool["scopes"]
    assert "Add LTI Advantage" in page.text
    assert "lms.js" in page.text
    assert "<script>" not in page.text


def test_an_instructor_may_not_see_it(client: TestClient, app: FastAPI) -> None:
    browser = console_client(app, create_key(client, "instructor", "Ms Rivera"))
    assert browser.get("/console/lms").status_code == 403
    assert 'href="/console/lms"' not in browser.get("/console").text


def test_adding_an_lms_by_hand(client: TestClient, app: FastAPI) -> None:
    browser = console_client(app, ADMIN_KEY)
    done = post_form(browser)
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith("/console/lms?done=added")
    [made] = platforms(client)
    # What register_platform made of the form: the issuer's slash dropped, one id a line.
    assert made["issuer"] == LMS
    assert made["deployment_ids"] == ["d-1", "d-2"]
    assert made["registered_by"] == "manual"
    assert made["jwks_url"] == FORM["jwks_url"]
    shown = browser.get(done.headers["location"])
    assert "The LMS was added" in shown.text
    assert "Moodle &lt;prod&gt;" in shown.text


def test_invalid_fields_are_shown_on_them(client: TestClient, app: FastAPI) -> None:
    browser = console_client(app, ADMIN_KEY)
    page = post_form(browser, name="", token_url="not a url", issuer="lms.example.edu")
    assert page.status_code == 422
    for control in ("lms-name", "lms-token-url", "lms-issuer"):
        assert f'id="{control}-error"' in page.text
        described = rf'id="{control}"[^>]*aria-describedby="{control}-hint {control}-error"'
        assert re.search(described, page.text), control
        assert re.search(rf'id="{control}"[^>]*aria-invalid="true"', page.text)
    assert "the issuer is the platform&#39;s URL" in page.text
    # What was typed stays, so nothing is typed twice.
    assert value_of(page.text, "lms-client-id") == "client-abc"
    assert value_of(page.text, "lms-token-url") == "not a url"
    assert 'id="lms-jwks-url-error"' not in page.text
    assert platforms(client) == []


def test_a_refused_url_says_why_on_its_field(client: TestClient, app: FastAPI) -> None:
    browser = console_client(app, ADMIN_KEY)
    page = post_form(browser, jwks_url="http://10.0.0.1/x")
    assert page.status_code == 422
    error = re.search(r'id="lms-jwks-url-error">([^<]+)<', page.text)
    assert error is not None
    assert "refused" in error[1]
    assert "private" in error[1], error[1]
    assert re.search(r'id="lms-jwks-url"[^>]*aria-invalid="true"', page.text)
    assert value_of(page.text, "lms-jwks-url") == "http://10.0.0.1/x"
    assert platforms(client) == []


def test_a_duplicate_is_refused(client: TestClient, app: FastAPI) -> None:
    browser = console_client(app, ADMIN_KEY)
    assert post_form(browser).status_code == 303
    again = post_form(browser, name="Moodle again")
    assert again.status_code == 409
    assert 'id="lms-form-error"' in again.text
    assert "already registered" in again.text
    assert re.search(r'id="new-lms-form"[^>]*aria-describedby="lms-form-error"', again.text)
    assert [p["name"] for p in platforms(client)] == ["Moodle <prod>"]


def test_removing_an_lms_asks_first(client: TestClient, app: FastAPI) -> None:
    made = register(client)
    browser = console_client(app, ADMIN_KEY)
    path = f"/console/lms/platforms/{made['id']}/remove"
    confirm = browser.get(path)
    assert confirm.status_code == 200
    assert 'id="remove-confirm"' in confirm.text
    assert made["issuer"] in confirm.text
    assert browser.post(path, data={"confirm": "yes"}).status_code == 403  # no CSRF token
    assert len(platforms(client)) == 1
    token = csrf_of(browser, path)
    done = browser.post(path, data={"csrftoken": token}, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/console/lms?done=removed"
    assert "The LMS was removed" in browser.get(done.headers["location"]).text
    assert platforms(client) == []
    assert browser.get(path).status_code == 404
    assert browser.post(path, data={"csrftoken": token}).status_code == 404


def test_adding_a_deployment_id(client: TestClient, app: FastAPI) -> None:
    made = register(client)
    browser = console_client(app, ADMIN_KEY)
    path = f"/console/lms/platforms/{made['id']}/deployments"
    token = csrf_of(browser, "/console/lms")
    done = browser.post(
        path, data={"csrftoken": token, "deployment_id": " 2:def "}, follow_redirects=False
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/console/lms?done=deployment-added"
    assert platforms(client)[0]["deployment_ids"] == ["1:abc", "2:def"]
    # The same id again changes nothing (as the API).
    browser.post(path, data={"csrftoken": token, "deployment_id": "2:def"})
    assert platforms(client)[0]["deployment_ids"] == ["1:abc", "2:def"]
    empty = browser.post(path, data={"csrftoken": token, "deployment_id": "  "})
    assert empty.status_code == 422
    control = f"deployment-{made['id']}"
    assert f'id="{control}-error"' in empty.text
    assert re.search(rf'id="{control}"[^>]*aria-describedby="{control}-error"', empty.text)
    missing = "/console/lms/platforms/00000000-0000-0000-0000-000000000000/deployments"
    assert browser.post(missing, data={"csrftoken": token, "deployment_id": "x"}).status_code == (
        404
    )


def test_a_registration_url_is_shown_once_and_registers_nothing(
    client: TestClient, app: FastAPI, clean_engine: Engine
) -> None:
    browser = console_client(app, ADMIN_KEY)
    token = csrf_of(browser, "/console/lms")
    made = browser.post("/console/lms/registrations", data={"csrftoken": token})
    assert made.status_code == 201
    assert "no-store" in made.headers["cache-control"]
    url = value_of(made.text, "invite-url")
    assert url.startswith("http://testserver/lti/register?invite=")
    assert 'data-copy="invite-url"' in made.text
    assert "works once, until" in made.text
    # Nothing is registered until an LMS opens the URL; the invitation waits, unused.
    assert platforms(client) == []
    with Session(clean_engine) as session:
        [invite] = session.scalars(select(LtiRegistrationInvite)).all()
        assert invite.used_at is None
        assert invite.platform_id is None
        assert url.rsplit("=", 1)[1] not in invite.token_hash  # stored only as its hash
    # Shown once: the page again has no URL.
    assert 'id="invite-url"' not in browser.get("/console/lms").text
    assert browser.post("/console/lms/registrations", data={"x": "y"}).status_code == 403


def test_the_api_removes_a_platform_with_its_deployments(client: TestClient) -> None:
    # The page and DELETE /v1/lti/platforms/{id} share delete_platform: a platform with
    # deployment ids once failed there (the ORM nulled their platform_id first).
    made = register(client, deployment_ids=["1:abc", "2:def"])
    assert client.delete(f"/v1/lti/platforms/{made['id']}").status_code == 204
    assert platforms(client) == []
