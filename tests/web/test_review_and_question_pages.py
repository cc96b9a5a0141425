"""The console's review, question, rescoring and calibration pages over plain HTTP."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.scoring.calibration import MIN_EXAMPLES
from service.scoring.pilot import MIN_TO_CALIBRATE
from service.worker import run_once
from tests.conftest import create_key
from tests.web.conftest import console_client, csrf_of

Q = "backchannel-q1"
STUFFED = "backchannel secret Kennedy Khrushchev Dobrynin avoid war trust private messages"
SCRIPT = "<script>alert('x')</script> They talked in secret, which helped avoid war."


def post(lms: TestClient, answer: str, learner: str) -> dict[str, Any]:
    response = lms.post(
        "/v1/submissions", json={"question_id": Q, "learner_id": learner, "answer": answer}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_queue_lists_what_needs_review_and_escapes_answers(
    client: TestClient, app: FastAPI, lms: TestClient
) -> None:
    flagged = post(lms, STUFFED + " " + SCRIPT, "<b>learner</b>")
    calm = post(lms, "They talked in secret.", "calm-one")
    assert flagged["needs_review"]
    assert not calm["needs_review"]
    browser = console_client(app, create_key(client, "instructor"))
    queue = browser.get("/console/review")
    assert queue.status_code == 200
    assert flagged["id"] in queue.text
    assert calm["id"] not in queue.text
    assert "&lt;b&gt;learner&lt;/b&gt;" in queue.text
    assert "<b>learner</b>" not in queue.text
    everything = browser.get("/console/review?needs_review=any")
    assert calm["id"] in everything.text
    page = browser.get(f"/console/submissions/{flagged['id']}")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
    assert "<script>alert" not in page.text
    assert 'class="evidence"' in page.text
    bad = browser.get("/console/review?needs_review=maybe")
    assert bad.status_code == 422
    assert "Choose yes, no or any." in bad.text


def test_override_needs_a_number_and_a_reason_then_goes_to_the_next(
    client: TestClient, app: FastAPI, lms: TestClient
) -> None:
    older = post(lms, STUFFED, "first")
    newer = post(lms, STUFFED + " and more", "second")
    instructor_key = create_key(client, "instructor")
    browser = console_client(app, instructor_key)
    path = f"/console/submissions/{newer['id']}"
    token = csrf_of(browser, path)
    refused = browser.post(
        path + "/score",
        data={"csrftoken": token, "action": "override", "points": "lots", "reason": ""},
    )
    assert refused.status_code == 422
    assert 'aria-describedby="points-error"' in refused.text
    assert "Enter the points as a number" in refused.text
    assert "Say why you change the score" in refused.text
    too_many = browser.post(
        path + "/score",
        data={"csrftoken": token, "action": "override", "points": "11", "reason": "r"},
    )
    assert too_many.status_code == 422
    assert "above the maximum" in too_many.text
    saved = browser.post(
        path + "/score",
        data={"csrftoken": token, "action": "override", "points": "6.5", "reason": "Fair"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"].startswith(f"/console/submissions/{older['id']}")
    accepted = browser.post(
        f"/console/submissions/{older['id']}/score",
        data={"csrftoken": token, "action": "accept"},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    assert accepted.headers["location"].startswith("/console/review")
    api = TestClient(app, headers={"Authorization": f"Bearer {instructor_key}"})
    trail = api.get(f"/v1/submissions/{newer['id']}/overrides").json()["items"]
    assert [(o["new_points"], o["reason"]) for o in trail] == [(6.5, "Fair")]
    accepted_trail = api.get(f"/v1/submissions/{older['id']}/overrides").json()["items"]
    assert accepted_trail[0]["new_points"] == older["points"]
    assert accepted_trail[0]["reason"] == "Accepted the machine score after review."
    history = browser.get(path).text
    assert "Fair" in history
    assert 'id="override-history"' in history


def test_question_page_export_and_charts(client: TestClient, app: FastAPI, lms: TestClient) -> None:
    post(lms, SCRIPT, "s1")
    post(lms, STUFFED, "s2")
    browser = console_client(app, create_key(client, "instructor"))
    page = browser.get(f"/console/questions/{Q}")
    assert page.status_code == 200
    assert 'id="points-histogram"' in page.text
    assert 'id="criteria-chart"' in page.text
    assert "style=" not in page.text  # the CSP allows no inline style
    stats = client.get(f"/v1/questions/{Q}/stats").json()
    assert f'<td class="num">{stats["submissions"]}</td>' in page.text
    csv = browser.get(f"/console/questions/{Q}/export.csv")
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("submission_id,")
    assert len(csv.text.splitlines()) == 3


def test_rescore_preview_writes_nothing_and_the_job_page_follows_the_job(
    client: TestClient, app: FastAPI, lms: TestClient
) -> None:
    created = [post(lms, answer, f"s{i}") for i, answer in enumerate([SCRIPT, STUFFED])]
    rubric = client.get(f"/v1/questions/{Q}/rubric-versions").json()["items"][-1]["rubric"]
    rubric["criteria"] = rubric["criteria"][1:]  # drop a criterion: scores change
    rubric.pop("id", None)
    assert client.put(f"/v1/questions/{Q}/rubric", json=rubric).status_code == 200
    browser = console_client(app, create_key(client, "instructor"))
    preview = browser.get(f"/console/questions/{Q}/rescore")
    assert preview.status_code == 200
    assert 'id="rescore-preview"' in preview.text
    api = client.post(f"/v1/questions/{Q}/rescore/preview").json()
    assert api["examined"] == 2
    before = [client.get(f"/v1/submissions/{c['id']}").json()["points"] for c in created]
    assert before == [c["points"] for c in created]  # the dry run wrote nothing
    token = csrf_of(browser, f"/console/questions/{Q}/rescore")
    started = browser.post(
        f"/console/questions/{Q}/rescore", data={"csrftoken": token}, follow_redirects=False
    )
    assert started.status_code == 303
    job_path = started.headers["location"]
    running = browser.get(job_path)
    assert 'id="job-progress"' in running.text
    assert "job.js" in running.text
    while run_once(app.state.sessionmaker, app.state.graders, app.state.settings):
        pass
    done = browser.get(job_path)
    assert 'id="job-done"' in done.text
    assert "job.js" not in done.text
    after = [client.get(f"/v1/submissions/{c['id']}").json()["points"] for c in created]
    changed = sum(b != a for b, a in zip(before, after, strict=True))
    assert changed == api["would_change"]


def test_calibration_grades_become_overrides_and_agreement_is_shown(
    client: TestClient, app: FastAPI, lms: TestClient
) -> None:
    for i, answer in enumerate([SCRIPT, STUFFED, "They talked.", "Secret talks avoided war."]):
        post(lms, answer, f"s{i}")
    browser = console_client(app, create_key(client, "instructor"))
    page = browser.get(f"/console/questions/{Q}/calibrate")
    assert page.status_code == 200
    fields = re.findall(r'name="(points-[0-9a-f-]{36})"', page.text)
    assert len(fields) == 4
    token = csrf_of(browser, f"/console/questions/{Q}/calibrate")
    bad = browser.post(
        f"/console/questions/{Q}/calibrate", data={"csrftoken": token, fields[0]: "lots"}
    )
    assert bad.status_code == 422
    assert f'aria-describedby="{fields[0]}-error"' in bad.text
    grades = {name: str(points) for name, points in zip(fields, [2, 3, 5, 8], strict=True)}
    saved = browser.post(
        f"/console/questions/{Q}/calibrate",
        data={"csrftoken": token, **grades},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    shown = browser.get(saved.headers["location"]).text
    assert re.search(r"Answers you graded</th><td class=\"num\">4<", shown)
    fitted = browser.post(f"/console/questions/{Q}/calibrate/fit", data={"csrftoken": token})
    assert fitted.status_code == 200
    assert "Saved as rubric version" in fitted.text
    # Four grades are fewer than a few-shot calibration accepts: only scored examples.
    assert "calibrated on" not in fitted.text


def test_a_handful_of_console_grades_calibrate_the_question(
    client: TestClient, app: FastAPI, lms: TestClient
) -> None:
    answers = [SCRIPT, STUFFED, "They talked.", "Secret talks avoided war.", "No idea."]
    assert len(answers) == MIN_TO_CALIBRATE < MIN_EXAMPLES
    for i, answer in enumerate(answers):
        post(lms, answer, f"s{i}")
    browser = console_client(app, create_key(client, "instructor"))
    page = browser.get(f"/console/questions/{Q}/calibrate")
    fields = re.findall(r'name="(points-[0-9a-f-]{36})"', page.text)
    token = csrf_of(browser, f"/console/questions/{Q}/calibrate")
    grades = {name: str(points) for name, points in zip(fields, [9, 3, 2, 7, 0], strict=True)}
    saved = browser.post(f"/console/questions/{Q}/calibrate", data={"csrftoken": token, **grades})
    assert saved.status_code == 200
    fitted = browser.post(f"/console/questions/{Q}/calibrate/fit", data={"csrftoken": token})
    assert fitted.status_code == 200
    assert f"calibrated on {MIN_TO_CALIBRATE} graded answers" in fitted.text
    stored = client.get(f"/v1/questions/{Q}/rubric-versions").json()["items"][-1]
    assert stored["rubric"]["calibration"]["kind"] == "few-shot"


def test_an_over_long_form_field_is_a_422_page_naming_it(
    client: TestClient, app: FastAPI, lms: TestClient
) -> None:
    created = post(lms, STUFFED, "s1")
    browser = console_client(app, create_key(client, "instructor"))
    path = f"/console/submissions/{created['id']}"
    token = csrf_of(browser, path)
    response = browser.post(
        path + "/score",
        data={"csrftoken": token, "action": "override", "points": "5", "reason": "x" * 2001},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "reason" in response.text
    assert "2000" in response.text


def test_pilot_page_grades_the_proposed_answer_and_tells_the_agreement(
    client: TestClient, app: FastAPI, lms: TestClient
) -> None:
    for i, answer in enumerate([SCRIPT, STUFFED, "They talked.", "Secret talks avoided war."]):
        post(lms, answer, f"s{i}")
    browser = console_client(app, create_key(client, "instructor"))
    path = f"/console/questions/{Q}/pilot"
    assert f'href="{path}"' in browser.get(f"/console/questions/{Q}").text
    page = browser.get(path)
    assert page.status_code == 200
    assert "You have not graded any answer of this question yet." in page.text
    # The answer is escaped, as everywhere.
    assert "<script>alert" not in page.text
    token = csrf_of(browser, path)
    graded: list[str] = []
    for points in ["lots", "2", "3", "5"]:
        proposed = re.search(r'name="submission_id" value="([0-9a-f-]{36})"', page.text)
        assert proposed is not None
        response = browser.post(
            path,
            data={"csrftoken": token, "submission_id": proposed[1], "points": points},
            follow_redirects=False,
        )
        if points == "lots":
            assert response.status_code == 422
            assert 'aria-describedby="points-error"' in response.text
            continue
        assert response.status_code == 303
        assert proposed[1] not in graded
        graded.append(proposed[1])
        page = browser.get(response.headers["location"])
        assert "Your grade was saved." in page.text
    assert "Agreement so far: r = " in page.text
    assert "over 3 answers." in page.text
    overrides = client.get(f"/v1/submissions/{graded[0]}/overrides").json()["items"]
    assert [(o["new_points"], o["reason"]) for o in overrides] == [(2.0, "Graded in the pilot.")]
    above = browser.post(
        path, data={"csrftoken": token, "submission_id": graded[0], "points": "11"}
    )
    assert above.status_code == 422
    assert "above the maximum" in above.text
