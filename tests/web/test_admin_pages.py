"""Admin pages: keys (list, create with the key shown once, revoke with the last-admin rule)
and courses (list, create, grant and take instructor keys), and that only admins see them."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_KEY, auth, create_key
from tests.web.conftest import console_client, csrf_of


def key_id_of(client: TestClient, name: str) -> str:
    items = client.get("/v1/keys").json()["items"]
    found: str = next(k["id"] for k in items if k["name"] == name)
    return found


def test_keys_page_lists_keys(client: TestClient, app: FastAPI) -> None:
    create_key(client, "integration", "<script>LMS</script>")
    browser = console_client(app, ADMIN_KEY)
    page = browser.get("/console/keys")
    assert page.status_code == 200
    assert 'id="keys-table"' in page.text
    assert 'id="new-key-form"' in page.text
    assert "&lt;script&gt;LMS&lt;/script&gt;" in page.text
    assert "<script>LMS" not in page.text
    assert 'aria-current="page"' in page.text


def test_creating_a_key_shows_it_once(client: TestClient, app: FastAPI) -> None:
    browser = console_client(app, ADMIN_KEY)
    token = csrf_of(browser, "/console/keys")
    created = browser.post(
        "/console/keys",
        data={
            "csrftoken": token,
            "name": "Ms Rivera",
            "role": "instructor",
            "course_ids": "default",
        },
        follow_redirects=False,
    )
    assert created.status_code == 201
    assert "no-store" in created.headers["cache-control"]
    shown = re.search(r'id="new-key-value"[^>]* value="([^"]+)"', created.text)
    assert shown is not None
    key = shown[1]
    # The key works, for the course it was given.
    me = client.get("/v1/courses", headers=auth(key))
    assert me.status_code == 200
    assert [c["id"] for c in me.json()["items"]] == ["default"]
    # Never again: the list shows only its prefix.
    again = browser.get("/console/keys")
    assert key not in again.text
    assert "Ms Rivera" in again.text


def test_key_form_errors(client: TestClient, app: FastAPI) -> None:
    browser = console_client(app, ADMIN_KEY)
    token = csrf_of(browser, "/console/keys")
    page = browser.post("/console/keys", data={"csrftoken": token, "name": "", "role": "boss"})
    assert page.status_code == 422
    assert 'id="key-name-error"' in page.text
    assert 'id="key-role-error"' in page.text
    described = r'id="key-name"[^>]*aria-describedby="key-name-hint key-name-error"'
    assert re.search(described, page.text)
    unknown = browser.post(
        "/console/keys",
        data={"csrftoken": token, "name": "T", "role": "instructor", "course_ids": "nope"},
    )
    assert unknown.status_code == 404
    assert 'id="key-courses-error"' in unknown.text
    assert browser.post("/console/keys", data={"name": "x", "role": "admin"}).status_code == 403


def test_revoking_a_key_asks_first(client: TestClient, app: FastAPI) -> None:
    create_key(client, "integration", "Old LMS")
    key_id = key_id_of(client, "Old LMS")
    browser = console_client(app, ADMIN_KEY)
    confirm = browser.get(f"/console/keys/{key_id}/revoke")
    assert confirm.status_code == 200
    assert 'id="revoke-confirm"' in confirm.text
    token = csrf_of(browser, f"/console/keys/{key_id}/revoke")
    no_token = browser.post(f"/console/keys/{key_id}/revoke", data={"confirm": "yes"})
    assert no_token.status_code == 403
    done = browser.post(
        f"/console/keys/{key_id}/revoke", data={"csrftoken": token}, follow_redirects=False
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/console/keys?done=revoked"
    assert "The key was revoked" in browser.get(done.headers["location"]).text
    revoked = next(k for k in client.get("/v1/keys").json()["items"] if k["id"] == key_id)
    assert revoked["revoked_at"] is not None


def test_the_last_admin_key_stays(client: TestClient, app: FastAPI) -> None:
    browser = console_client(app, ADMIN_KEY)
    admin_id = next(k["id"] for k in client.get("/v1/keys").json()["items"] if k["role"] == "admin")
    token = csrf_of(browser, "/console/keys")
    page = browser.post(f"/console/keys/{admin_id}/revoke", data={"csrftoken": token})
    assert page.status_code == 409
    assert "last active admin key" in page.text
    assert 'id="keys-table-error"' in page.text


def test_unknown_key_is_not_found(client: TestClient, app: FastAPI) -> None:
    browser = console_client(app, ADMIN_KEY)
    missing = "00000000-0000-0000-0000-000000000000"
    assert browser.get(f"/console/keys/{missing}/revoke").status_code == 404
    assert browser.get("/console/keys/not-a-uuid/revoke").status_code in (404, 422)


def test_courses_create_grant_and_take(client: TestClient, app: FastAPI) -> None:
    create_key(client, "instructor", "Mr Ode", courses=[])
    key_id = key_id_of(client, "Mr Ode")
    browser = console_client(app, ADMIN_KEY)
    page = browser.get("/console/courses")
    assert page.status_code == 200
    assert 'id="courses-table"' in page.text
    token = csrf_of(browser, "/console/courses")
    made = browser.post(
        "/console/courses",
        data={"csrftoken": token, "id": "hist-101", "title": "History <b>101</b>"},
        follow_redirects=False,
    )
    assert made.status_code == 303
    listed = browser.get(made.headers["location"])
    assert "History &lt;b&gt;101&lt;/b&gt;" in listed.text
    assert 'id="course-hist-101"' in listed.text
    granted = browser.post(
        "/console/courses/hist-101/instructors",
        data={"csrftoken": token, "key_id": key_id, "action": "grant"},
        follow_redirects=False,
    )
    assert granted.status_code == 303
    assert key_id_courses(client, key_id) == ["hist-101"]
    taken = browser.post(
        "/console/courses/hist-101/instructors",
        data={"csrftoken": token, "key_id": key_id, "action": "revoke"},
        follow_redirects=False,
    )
    assert taken.status_code == 303
    assert key_id_courses(client, key_id) == []


def key_id_courses(client: TestClient, key_id: str) -> list[str]:
    key = next(k for k in client.get("/v1/keys").json()["items"] if k["id"] == key_id)
    courses: list[str] = key["course_ids"]
    return courses


def test_course_form_errors(client: TestClient, app: FastAPI) -> None:
    browser = console_client(app, ADMIN_KEY)
    token = csrf_of(browser, "/console/courses")
    bad = browser.post("/console/courses", data={"csrftoken": token, "id": "Bad Id", "title": ""})
    assert bad.status_code == 422
    assert 'id="course-id-error"' in bad.text
    assert 'id="course-title-error"' in bad.text
    twice = browser.post(
        "/console/courses", data={"csrftoken": token, "id": "default", "title": "D"}
    )
    assert twice.status_code == 409
    assert 'id="course-id-error"' in twice.text
    grant = "/console/courses/default/instructors"
    no_key = browser.post(grant, data={"csrftoken": token, "key_id": "", "action": "grant"})
    assert no_key.status_code == 422
    assert 'id="grant-default-key-error"' in no_key.text
    lms = create_key(client, "integration", "LMS")
    not_instructor = browser.post(
        "/console/courses/default/instructors",
        data={"csrftoken": token, "key_id": key_id_of(client, "LMS"), "action": "grant"},
    )
    assert not_instructor.status_code == 422
    assert lms
    lms_id = key_id_of(client, "LMS")
    missing = browser.post(
        "/console/courses/nope/instructors", data={"csrftoken": token, "key_id": lms_id}
    )
    assert missing.status_code == 404
    assert browser.post("/console/courses", data={"id": "x", "title": "x"}).status_code == 403


def test_admin_pages_are_for_admins(client: TestClient, app: FastAPI) -> None:
    teacher = console_client(app, create_key(client, "instructor", "T"))
    for path in ("/console/keys", "/console/courses"):
        assert teacher.get(path).status_code == 403
    token = csrf_of(teacher, "/console")
    new_key = {"csrftoken": token, "name": "x", "role": "admin"}
    assert teacher.post("/console/keys", data=new_key).status_code == 403
    new_course = {"csrftoken": token, "id": "x", "title": "x"}
    assert teacher.post("/console/courses", data=new_course).status_code == 403
    # The nav shows the admin links only to admins.
    assert 'href="/console/keys"' not in teacher.get("/console").text
