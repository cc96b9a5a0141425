"""The console's rubric editor: the current version as a form, a new version on save (the
API's own call), every validation message beside its field, and trying an answer against
the unsaved draft."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.scoring import limits
from tests.conftest import ADMIN_KEY, create_key
from tests.web.conftest import console_client, csrf_of

EDITOR = "/console/questions/photo-1/rubric"

RUBRIC: dict[str, Any] = {
    "id": "photo-1",
    "title": "What photosynthesis makes",
    "prompt": "What do plants make in photosynthesis, and from what?",
    "max_points": 4,
    "score_step": 0.5,
    "reference_answers": [
        "Plants use light energy to turn carbon dioxide and water into glucose and oxygen."
    ],
    "criteria": [
        {
            "id": "products",
            "description": "Names glucose (sugar) and oxygen as the products",
            "weight": 2,
            "phrasings": ["glucose", "sugar", "oxygen"],
            "feedback": {"hit": "You named the products.", "miss": "What does the plant make?"},
        }
    ],
}


def make_question(client: TestClient, body: dict[str, Any] | None = None) -> None:
    response = client.post("/v1/questions", json=body or RUBRIC)
    assert response.status_code == 201, response.text


def form_of(page: str) -> dict[str, Any]:
    """The editor's fields as the browser would post them (rows line up by position)."""

    def value(name: str) -> list[str]:
        found = re.findall(rf'<input id="[^"]+" name="{name}" type="text" value="([^"]*)"', page)
        found += re.findall(rf'<textarea id="[^"]+" name="{name}"[^>]*>([^<]*)</textarea>', page)
        return [html_unescape(v) for v in found]

    data: dict[str, Any] = {"csrftoken": re.search(r'name="csrftoken" value="([^"]+)"', page)[1]}  # type: ignore[index]
    for name in ("title", "max_points", "score_step", "keyword_weight", "similarity_weight"):
        data[name] = value(name)[0]
    for name in ("prompt", "references", "background"):
        data[name] = value(name)[0]
    for field in ("id", "weight", "description", "phrasings", "hit", "miss"):
        data[f"criterion_{field}"] = value(f"criterion_{field}")
    return data


def html_unescape(text: str) -> str:
    return html.unescape(text)


def test_editor_shows_the_current_version(client: TestClient, app: FastAPI) -> None:
    make_question(client)
    browser = console_client(app, ADMIN_KEY)
    page = browser.get(EDITOR)
    assert page.status_code == 200
    text = page.text
    for element in ('id="rubric-form"', 'id="criterion-0-phrasings"', 'id="rubric-save"',
                    'id="try-answer"', 'id="try-submit"', 'id="try-result"'):  # fmt: skip
        assert element in text
    # The current criterion and two blank rows.
    assert 'id="criterion-2-miss"' in text
    assert 'id="criterion-3-id"' not in text
    data = form_of(text)
    assert data["title"] == "What photosynthesis makes"
    assert data["criterion_phrasings"][0] == "glucose\nsugar\noxygen"
    assert data["criterion_id"] == ["products", "", ""]
    assert 'aria-live="polite"' in text
    assert "rubric.js" in text


def test_saving_makes_a_new_version_and_links_rescoring(client: TestClient, app: FastAPI) -> None:
    make_question(client)
    browser = console_client(app, ADMIN_KEY)
    data = form_of(browser.get(EDITOR).text)
    data["criterion_id"][1] = "inputs"
    data["criterion_description"][1] = "Names carbon dioxide and water"
    data["criterion_phrasings"][1] = "carbon dioxide\nwater"
    data["criterion_hit"][1] = "You named the inputs."
    data["criterion_miss"][1] = "What does the plant start from?"
    data["references"] += "\n---\nFrom water and carbon dioxide a plant makes sugar and oxygen."
    saved = browser.post(EDITOR, data=data, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == EDITOR + "?saved=2"
    page = browser.get(saved.headers["location"])
    assert 'id="saved-notice"' in page.text
    assert "Saved as version 2" in page.text
    assert 'href="/console/questions/photo-1/rescore"' in page.text
    versions = client.get("/v1/questions/photo-1/rubric-versions").json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    rubric = versions[-1]["rubric"]
    assert [c["id"] for c in rubric["criteria"]] == ["products", "inputs"]
    assert rubric["criteria"][1]["phrasings"] == ["carbon dioxide", "water"]
    assert len(rubric["reference_answers"]) == 2
    assert rubric["criteria"][1]["weight"] == 1.0  # left empty: the default


def test_errors_are_shown_next_to_their_fields(client: TestClient, app: FastAPI) -> None:
    make_question(client)
    browser = console_client(app, ADMIN_KEY)
    data = form_of(browser.get(EDITOR).text)
    data["title"] = ""
    data["max_points"] = "lots"
    data["criterion_id"][1] = "Bad Id"
    data["criterion_description"][1] = "x"
    data["criterion_phrasings"][1] = ""
    data["criterion_hit"][1] = "ok"
    data["criterion_miss"][1] = "ok"
    page = browser.post(EDITOR, data=data)
    assert page.status_code == 422
    text = page.text
    for field in ("rubric-title", "rubric-max-points", "criterion-1-id", "criterion-1-phrasings"):
        assert f'id="{field}-error"' in text, field
        assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error"', text), field
    assert 'value="Bad Id"' in text  # what was typed is kept
    assert len(client.get("/v1/questions/photo-1/rubric-versions").json()["items"]) == 1


def test_a_compile_error_is_shown_at_its_criterion(client: TestClient, app: FastAPI) -> None:
    make_question(client)
    browser = console_client(app, ADMIN_KEY)
    data = form_of(browser.get(EDITOR).text)
    # A criterion the first reference answer does not cover: the engine refuses it.
    data["criterion_id"][1] = "chlorophyll"
    data["criterion_description"][1] = "Mentions chlorophyll"
    data["criterion_phrasings"][1] = "chlorophyll"
    data["criterion_hit"][1] = "Yes."
    data["criterion_miss"][1] = "No."
    page = browser.post(EDITOR, data=data)
    assert page.status_code == 422
    assert 'id="criterion-1-phrasings-error"' in page.text
    assert "not covered by reference_answers[0]" in page.text


def test_weights_that_do_not_sum_to_one(client: TestClient, app: FastAPI) -> None:
    make_question(client)
    browser = console_client(app, ADMIN_KEY)
    data = form_of(browser.get(EDITOR).text)
    data["keyword_weight"], data["similarity_weight"] = "0.9", "0.9"
    page = browser.post(EDITOR, data=data)
    assert page.status_code == 422
    assert 'id="rubric-keyword-weight-error"' in page.text


def test_rubric_text_is_escaped(client: TestClient, app: FastAPI) -> None:
    body = {**RUBRIC, "title": "<script>alert(1)</script>"}
    body["criteria"] = [{**RUBRIC["criteria"][0], "description": "<b>bold</b><script>x</script>"}]
    make_question(client, body)
    page = console_client(app, ADMIN_KEY).get(EDITOR)
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<b>bold</b>" not in page.text


def test_try_scores_the_draft_without_saving(client: TestClient, app: FastAPI) -> None:
    make_question(client)
    browser = console_client(app, ADMIN_KEY)
    data = form_of(browser.get(EDITOR).text)
    data["answer"] = "The plant makes <script>sugar</script> and oxygen."
    page = browser.post(EDITOR + "/try", data=data)
    assert page.status_code == 200, page.text
    assert 'id="rubric-form"' in page.text  # the whole editor, for use without JS
    result = page.text.split('id="try-result"', 1)[1]
    assert "out of 4" in result
    assert "Met" in result
    assert "products" in result
    assert "Matched words:" in result
    assert "<script>sugar" not in page.text
    assert "&lt;script&gt;sugar" in page.text
    # The draft, not the saved version: drop the criterion's phrasings that match.
    data["criterion_phrasings"][0] = "glucose"
    data["answer"] = "The plant makes sugar."
    fragment = browser.post(EDITOR + "/try?fragment=true", data=data)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "Missed" in fragment.text
    assert len(client.get("/v1/questions/photo-1/rubric-versions").json()["items"]) == 1


def test_try_with_the_csrf_header_as_the_script_sends_it(client: TestClient, app: FastAPI) -> None:
    make_question(client)
    browser = console_client(app, ADMIN_KEY)
    data = form_of(browser.get(EDITOR).text)
    token = data.pop("csrftoken")
    data["answer"] = "glucose and oxygen"
    fragment = browser.post(
        EDITOR + "/try?fragment=true", data=data, headers={"x-csrftoken": token}
    )
    assert fragment.status_code == 200
    assert "Met" in fragment.text


def test_try_reports_a_broken_draft_and_an_empty_answer(client: TestClient, app: FastAPI) -> None:
    make_question(client)
    browser = console_client(app, ADMIN_KEY)
    data = form_of(browser.get(EDITOR).text)
    data["references"] = ""
    data["answer"] = ""
    fragment = browser.post(EDITOR + "/try?fragment=true", data=data)
    assert fragment.status_code == 422
    assert 'href="#rubric-references"' in fragment.text
    assert 'href="#try-answer"' in fragment.text
    page = browser.post(EDITOR + "/try", data=data)
    assert page.status_code == 422
    assert 'id="try-answer-error"' in page.text
    assert 'id="rubric-references-error"' in page.text


def test_too_many_rows_and_too_long_answer_are_refused(client: TestClient, app: FastAPI) -> None:
    make_question(client)
    browser = console_client(app, ADMIN_KEY)
    data = form_of(browser.get(EDITOR).text)
    rows = limits.MAX_CRITERIA + 5
    for field in ("id", "weight", "description", "phrasings", "hit", "miss"):
        data[f"criterion_{field}"] = ["x"] * rows
    page = browser.post(EDITOR, data=data)
    assert page.status_code == 422
    assert "At most" in page.text
    data = form_of(browser.get(EDITOR).text)
    data["answer"] = "a" * 10_001
    assert browser.post(EDITOR + "/try", data=data).status_code == 422


def test_csrf_is_required(client: TestClient, app: FastAPI) -> None:
    make_question(client)
    browser = console_client(app, ADMIN_KEY)
    data = form_of(browser.get(EDITOR).text)
    data.pop("csrftoken")
    assert browser.post(EDITOR, data=data).status_code == 403
    data["answer"] = "sugar"
    assert browser.post(EDITOR + "/try", data=data).status_code == 403


def test_another_courses_question_is_not_found(client: TestClient, app: FastAPI) -> None:
    assert client.post("/v1/courses", json={"id": "bio-2", "title": "Biology 2"}).status_code == 201
    make_question(client, {**RUBRIC, "course_id": "bio-2"})
    key = create_key(client, "instructor", "Course A teacher", courses=["default"])
    browser = console_client(app, key)
    assert browser.get(EDITOR).status_code == 404
    token = csrf_of(browser, "/console")
    assert browser.post(EDITOR, data={"csrftoken": token, "title": "x"}).status_code == 404
    assert (
        browser.post(EDITOR + "/try", data={"csrftoken": token, "answer": "x"}).status_code == 404
    )
    # The course's own instructor edits it.
    own = console_client(app, create_key(client, "instructor", "B", courses=["bio-2"]))
    assert own.get(EDITOR).status_code == 200


def test_signed_out_is_sent_to_sign_in(client: TestClient, app: FastAPI) -> None:
    make_question(client)
    response = TestClient(app).get(EDITOR, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/sign-in")
