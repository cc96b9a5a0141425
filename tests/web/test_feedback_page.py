"""The student's feedback page: the feedback link answers HTML to a browser, JSON to
programs, and shows only the student-safe view."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select, update

from service.db.models import GradingResult, Question, Submission
from service.main import create_app
from tests.conftest import ADMIN_KEY, auth, client_as, create_key

Q = "backchannel-q1"
HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
ANSWER = (
    "Kennedy and Khrushchev sent secret messages through Robert Kennedy and Dobrynin, "
    "which helped them avoid war. <script>alert('x')</script>"
)


def submit(lms: TestClient, answer: str = ANSWER, question: str = Q) -> dict[str, Any]:
    response = lms.post(
        "/v1/submissions", json={"question_id": question, "learner_id": "s-1", "answer": answer}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def path_of(url: str) -> str:
    return "/v1/feedback/" + url.rsplit("/", 1)[1]


def text_of(page: str) -> str:
    """The visible text, roughly: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_browser_gets_a_page_and_programs_get_json(lms: TestClient, anon: TestClient) -> None:
    link = path_of(submit(lms)["feedback_url"])
    page = anon.get(link, headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Accept" in page.headers["vary"]
    for accept in (None, "application/json", "*/*"):
        headers = {"accept": accept} if accept else {}
        data = anon.get(link, headers=headers)
        assert data.headers["content-type"].startswith("application/json"), accept
        assert data.headers["vary"] == "Accept"
        assert data.json()["answer"] == ANSWER


def test_page_shows_score_highlights_and_ideas_but_no_rubric_internals(
    lms: TestClient, anon: TestClient, instructor: TestClient
) -> None:
    created = submit(lms)
    page = anon.get(path_of(created["feedback_url"]), headers=HTML).text
    staff = instructor.get(f"/v1/submissions/{created['id']}").json()["result"]
    visible = text_of(page)
    assert f"{staff['points']:g} out of {staff['max_points']:g}" in " ".join(visible.split())
    met = [c for c in staff["criteria"] if c["met"]]
    missed = [c for c in staff["criteria"] if not c["met"]]
    assert met
    assert missed
    for criterion in met:  # the teacher's hit text, and the words that earned it marked
        assert html.escape(criterion["feedback"], quote=False) in page
    assert page.count('<mark class="evidence">') >= 1
    for criterion in missed:  # the teacher's hint
        assert html.escape(criterion["feedback"], quote=False) in page
    for criterion in staff["criteria"]:  # never the rubric's descriptions or phrasings
        assert criterion["description"] not in visible
    versions = instructor.get(f"/v1/questions/{Q}/rubric-versions").json()["items"]
    for reference in versions[-1]["rubric"]["reference_answers"]:
        assert reference[:60] not in visible
    assert "What to do next" in visible


def test_an_answer_with_markup_is_shown_as_text(lms: TestClient, anon: TestClient) -> None:
    page = anon.get(path_of(submit(lms)["feedback_url"]), headers=HTML).text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page


def test_page_headers_forbid_inline_script_and_framing_by_default(
    lms: TestClient, anon: TestClient
) -> None:
    page = anon.get(path_of(submit(lms)["feedback_url"]), headers=HTML)
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text.replace("<script src=", "")


def test_the_organisations_lms_origins_may_frame_the_page(
    client: TestClient, lms: TestClient, anon: TestClient
) -> None:
    refused = client.put("/v1/organization/embedding", json={"origins": ["http://lms.example.edu"]})
    assert refused.status_code == 422
    assert "https" in refused.json()["detail"]
    bad = client.put("/v1/organization/embedding", json={"origins": ["javascript:alert(1)"]})
    assert bad.status_code == 422
    saved = client.put(
        "/v1/organization/embedding", json={"origins": ["https://Moodle.Example.edu/"]}
    )
    assert saved.status_code == 422  # a path (even "/") is not an origin
    saved = client.put(
        "/v1/organization/embedding", json={"origins": ["https://Moodle.Example.edu"]}
    )
    assert saved.json() == {"origins": ["https://moodle.example.edu"]}
    page = anon.get(path_of(submit(lms)["feedback_url"]), headers=HTML)
    assert page.headers["content-security-policy"].endswith(
        "frame-ancestors https://moodle.example.edu"
    )
    assert "x-frame-options" not in page.headers
    # The JSON face is never framed.
    data = anon.get(path_of(submit(lms)["feedback_url"]))
    assert data.headers["x-frame-options"] == "DENY"


def test_held_back_feedback_shows_only_that_the_answer_was_received(
    instructor: TestClient, lms: TestClient, anon: TestClient
) -> None:
    assert instructor.put(f"/v1/questions/{Q}/feedback-release", json={"mode": "manual"}).is_success
    link = path_of(submit(lms)["feedback_url"])
    page = anon.get(link, headers=HTML).text
    visible = " ".join(text_of(page).split())
    assert "Your answer was received" in visible
    assert "when your teacher releases them" in visible
    assert "out of" not in visible
    assert "Ideas to work on" not in visible
    assert "evidence" not in page
    instructor.post(f"/v1/questions/{Q}/feedback-release/release")
    released = " ".join(text_of(anon.get(link, headers=HTML).text).split())
    assert "Ideas to work on" in released


def test_pending_answer_says_it_is_being_scored(
    lms: TestClient, anon: TestClient, engine: Engine, app: FastAPI
) -> None:
    created = submit(lms)
    with engine.begin() as connection:  # as if scoring had failed and is to be retried
        connection.execute(
            update(Submission).values(status="pending", points=None, machine_points=None)
        )
        connection.execute(delete(GradingResult))
    page = anon.get(path_of(created["feedback_url"]), headers=HTML)
    assert page.status_code == 200
    assert "being scored" in page.text


def test_unknown_and_malformed_links_get_a_readable_page(anon: TestClient) -> None:
    missing = anon.get("/v1/feedback/" + "a" * 43, headers=HTML)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in missing.text
    short = anon.get("/v1/feedback/abc", headers=HTML)
    assert short.status_code == 422
    assert short.headers["content-type"].startswith("text/html")
    assert anon.get("/v1/feedback/abc").headers["content-type"] == "application/problem+json"


def test_lang_follows_the_questions_language(
    client: TestClient, lms: TestClient, anon: TestClient, engine: Engine
) -> None:
    with engine.begin() as connection:
        connection.execute(update(Question).values(language="fr"))
    page = anon.get(path_of(submit(lms)["feedback_url"]), headers=HTML).text
    # No French catalogue ships: the page's own words are English and say so, the teacher's
    # words (question, answer, feedback) are marked French.
    assert '<html lang="en">' in page
    assert '<p class="prompt" lang="fr">' in page
    assert '<blockquote class="answer" lang="fr">' in page


@pytest.mark.parametrize("width_marker", ['name="viewport" content="width=device-width'])
def test_page_is_made_for_phones_and_print(
    lms: TestClient, anon: TestClient, width_marker: str
) -> None:
    page = anon.get(path_of(submit(lms)["feedback_url"]), headers=HTML).text
    assert width_marker in page
    css = anon.get("/static/app.css")
    assert css.status_code == 200
    assert "@media print" in css.text
    assert "max-age=31536000" in css.headers["cache-control"]


def test_expired_link_page(settings: Any) -> None:
    expiring = settings.model_copy(update={"feedback_link_ttl_days": 1})
    with TestClient(create_app(expiring), headers=auth(ADMIN_KEY)) as admin:
        lms = client_as(admin.app, create_key(admin, "integration"))  # type: ignore[arg-type]
        link = path_of(submit(lms)["feedback_url"])
        factory = admin.app.state.sessionmaker  # type: ignore[attr-defined]
        with factory() as session, session.begin():
            session.execute(
                update(Submission).values(
                    feedback_token_issued_at=datetime.now(UTC) - timedelta(days=2)
                )
            )
        page = TestClient(admin.app).get(link, headers=HTML)
        assert page.status_code == 410
        assert "This link has expired" in page.text
        assert "ask your instructor" in page.text


SPANISH = (
    "Kennedy y Jruschov negociaron en secreto por canales no oficiales, lo que les permitió "
    "aclarar sus posiciones sin la presión del público y evitar una guerra nuclear."
)
OTHER_LANGUAGE_TEXT = "The answer seems to be in another language than the question."


def test_page_explains_an_answer_in_another_language(lms: TestClient, anon: TestClient) -> None:
    body = submit(lms, SPANISH)
    assert [a["code"] for a in body["result"]["advisories"]] == ["other_language"]
    page = text_of(anon.get(path_of(body["feedback_url"]), headers=HTML).text)
    assert OTHER_LANGUAGE_TEXT in page


def test_page_explains_the_legacy_not_english_code(
    lms: TestClient, anon: TestClient, engine: Engine
) -> None:
    """A result stored before ``other_language`` carries ``not_english`` and its old English
    message: the page shows the catalogue's text for it, not a bare code or that message."""
    body = submit(lms, SPANISH)
    old_message = (
        "Your answer does not seem to be written in English, so it could not be marked "
        "automatically. A teacher will read it instead; it has not been marked as wrong."
    )
    with engine.begin() as connection:
        for row_id, details in connection.execute(select(GradingResult.id, GradingResult.details)):
            legacy = {
                **details,
                "advisories": [{"code": "not_english", "message": old_message, "cap": None}],
            }
            connection.execute(
                update(GradingResult)
                .where(GradingResult.id == row_id)
                .values(advisories=["not_english"], details=legacy)
            )
    page = text_of(anon.get(path_of(body["feedback_url"]), headers=HTML).text)
    assert OTHER_LANGUAGE_TEXT in page
    assert "not_english" not in page
    assert "written in English" not in page
