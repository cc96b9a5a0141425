"""Instructor workflows: overrides with audit, questions and rubric versions, rescoring,
analytics and export."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.domain.jobs.service import JobPolicy, run_next_job
from service.main import create_app
from tests.conftest import ADMIN_KEY, auth
from tests.factories import rubric_data, submit

Q = "backchannel-q1"
GOOD = "Kennedy and Khrushchev negotiated secretly, clarified positions and avoided war."


def override(client: TestClient, submission_id: str, points: float, reason: str) -> Any:
    return client.post(
        f"/v1/submissions/{submission_id}/overrides", json={"points": points, "reason": reason}
    )


def test_override_is_effective_and_audited(lms: TestClient, instructor: TestClient) -> None:
    created = submit(lms, GOOD)
    machine = created["result"]["points"]
    first = override(instructor, created["id"], 9.5, "Named both leaders and the outcome.")
    assert first.status_code == 201
    second = override(instructor, created["id"], 8, "On reflection, the intentions are missing.")
    audit = instructor.get(f"/v1/submissions/{created['id']}/overrides").json()["items"]
    assert [(o["old_points"], o["new_points"]) for o in audit] == [(machine, 9.5), (9.5, 8)]
    assert audit[0]["reason"] == "Named both leaders and the outcome."
    assert audit[0]["by_key_name"] == "Ms Rivera"
    assert audit[1] == second.json()
    stored = instructor.get(f"/v1/submissions/{created['id']}").json()
    assert stored["points"] == 8
    assert stored["overridden"] is True
    assert stored["result"]["points"] == machine  # the machine score is kept
    # The student sees the effective score, and that a teacher adjusted it.
    feedback = lms.get(created["feedback_url"]).json()
    assert (feedback["points"], feedback["adjusted_by_instructor"]) == (8, True)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"points": 10.5, "reason": "too many"}, 422),
        ({"points": -1, "reason": "negative"}, 422),
        ({"points": 5, "reason": "   "}, 422),
        ({"points": 5}, 422),
    ],
)
def test_invalid_overrides_are_refused(
    lms: TestClient, instructor: TestClient, body: dict[str, Any], status: int
) -> None:
    created = submit(lms, GOOD)
    response = instructor.post(f"/v1/submissions/{created['id']}/overrides", json=body)
    assert response.status_code == status
    assert instructor.get(f"/v1/submissions/{created['id']}/overrides").json()["items"] == []


NEW_QUESTION: dict[str, Any] = {
    "id": "hotline-purpose",
    "title": "The hotline",
    "prompt": "Why was the Moscow-Washington hotline set up after the crisis?",
    "max_points": 4,
    "score_step": 0.5,
    "reference_answers": [
        "It gave the two leaders a direct and fast link, so that a future crisis would not "
        "escalate through slow or misunderstood messages."
    ],
    "criteria": [
        {
            "id": "direct-link",
            "description": "A direct link between the leaders",
            "weight": 1,
            "phrasings": ["direct link", "direct line"],
            "feedback": {"hit": "Yes, a direct link.", "miss": "What did it connect?"},
        },
        {
            "id": "speed",
            "description": "Fast communication in a crisis",
            "weight": 1,
            "phrasings": ["fast", "quick", "immediate"],
            "feedback": {"hit": "Yes, speed mattered.", "miss": "Why did speed matter?"},
        },
    ],
}


FIRST_CRITERION: dict[str, Any] = NEW_QUESTION["criteria"][0]


def test_create_question_then_submit_to_it(instructor: TestClient, lms: TestClient) -> None:
    response = instructor.post("/v1/questions", json=NEW_QUESTION)
    assert response.status_code == 201
    assert response.json() == {
        "question_id": "hotline-purpose",
        "rubric_version": 1,
        "created": True,
    }
    assert instructor.post("/v1/questions", json=NEW_QUESTION).status_code == 409
    scored = submit(lms, "A direct line made contact fast.", question_id="hotline-purpose")
    assert scored["max_points"] == 4
    full = instructor.get(f"/v1/submissions/{scored['id']}").json()["result"]
    assert [c["met"] for c in full["criteria"]] == [True, True]
    assert scored["result"]["missed"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"max_points": 0}, "max_points"),
        ({"id": "Not A Slug"}, "id"),
        (
            {"criteria": [{**FIRST_CRITERION, "phrasings": ["photosynthesis"]}]},
            "criteria[0].phrasings",
        ),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_question_names_the_field(
    instructor: TestClient, change: dict[str, Any], field: str
) -> None:
    response = instructor.post("/v1/questions", json={**NEW_QUESTION, **change})
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "rubric_invalid"
    assert problem["field"] == field


def test_rubric_edit_creates_a_version_and_rescoring_applies_it(
    lms: TestClient, instructor: TestClient, client: TestClient, settings: Settings
) -> None:
    subs = [
        submit(lms, text, learner_id=f"s{i}")
        for i, text in enumerate([GOOD, "They talked secretly.", "No idea.", "They avoided war."])
    ]
    overridden = subs[2]["id"]
    override(instructor, overridden, 3, "Partial credit for effort.")

    rubric = rubric_data(Q)
    rubric.pop("id")
    rubric["criteria"] = rubric["criteria"][:2]  # drop criteria: scores change
    saved = instructor.put(f"/v1/questions/{Q}/rubric", json=rubric)
    assert saved.json() == {"question_id": Q, "rubric_version": 2, "created": True}
    again = instructor.put(f"/v1/questions/{Q}/rubric", json=rubric)
    assert again.json()["created"] is False
    versions = instructor.get(f"/v1/questions/{Q}/rubric-versions").json()["items"]
    assert [(v["version"], v["source"]) for v in versions] == [(1, "file"), (2, "api")]
    assert len(versions[1]["rubric"]["criteria"]) == 2

    # Old scores keep their version until rescored.
    assert (
        instructor.get(f"/v1/submissions/{subs[0]['id']}").json()["result"]["rubric_version"] == 1
    )
    job = instructor.post(f"/v1/questions/{Q}/rescore")
    assert job.status_code == 202
    assert (job.json()["status"], job.json()["total"], job.json()["rubric_version"]) == (
        "queued",
        4,
        2,
    )
    run_next_job(client.app.state.sessionmaker, client.app.state.graders, JobPolicy())  # type: ignore[attr-defined]
    done = instructor.get(f"/v1/jobs/{job.json()['id']}").json()
    assert (done["status"], done["processed"], done["failed"]) == ("succeeded", 4, 0)
    after = {s["id"]: instructor.get(f"/v1/submissions/{s['id']}").json() for s in subs}
    assert all(s["result"]["rubric_version"] == 2 for s in after.values())
    changed = sum(after[s["id"]]["result"]["points"] != s["result"]["points"] for s in subs)
    assert done["changed"] == changed
    assert changed > 0
    # The override survives rescoring.
    assert after[overridden]["points"] == 3
    assert after[overridden]["overridden"] is True
    # Restarting does not revert the instructor's edit with the file's version.
    with TestClient(create_app(settings), headers=auth(ADMIN_KEY)) as restarted:
        assert restarted.get(f"/v1/questions/{Q}").json()["rubric_version"] == 2


def test_rescore_survives_a_restart_mid_job(
    lms: TestClient, instructor: TestClient, client: TestClient, settings: Settings
) -> None:
    for i in range(5):
        submit(lms, f"They negotiated secretly, attempt {i}.", learner_id=f"s{i}")
    rubric = rubric_data(Q)
    rubric.pop("id")
    rubric["criteria"] = rubric["criteria"][1:]
    instructor.put(f"/v1/questions/{Q}/rubric", json=rubric)
    job_id = instructor.post(f"/v1/questions/{Q}/rescore").json()["id"]

    # A worker processes one batch of two, then dies (its lease is left to expire).
    policy = JobPolicy(batch_size=2, lease_seconds=0.2)
    state = client.app.state  # type: ignore[attr-defined]
    run_next_job(state.sessionmaker, state.graders, policy, max_batches=1)
    partial = instructor.get(f"/v1/jobs/{job_id}").json()
    assert (partial["status"], partial["processed"]) == ("running", 2)
    time.sleep(0.3)

    # After a restart, the background worker resumes from the committed cursor.
    restarted_settings = settings.model_copy(
        update={"worker_enabled": True, "worker_poll_seconds": 0.05, "job_batch_size": 2}
    )
    with TestClient(create_app(restarted_settings), headers=auth(ADMIN_KEY)) as restarted:
        deadline = time.monotonic() + 20
        while (job := restarted.get(f"/v1/jobs/{job_id}").json())["status"] != "succeeded":
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
    assert (job["processed"], job["failed"]) == (5, 0)
    assert job["changed"] == 5  # the criterion every answer met was removed
    results = [
        s["result"]["rubric_version"] for s in instructor.get("/v1/submissions").json()["items"]
    ]
    assert results == [2] * 5


def test_stats_describe_how_the_question_went(lms: TestClient, instructor: TestClient) -> None:
    a = submit(lms, GOOD, learner_id="a")
    submit(lms, "They talked secretly.", learner_id="b")
    submit(lms, "No idea.", learner_id="c")
    override(instructor, a["id"], 10, "Full marks deserved.")
    stats = instructor.get(f"/v1/questions/{Q}/stats").json()
    points = sorted(s["points"] for s in instructor.get("/v1/submissions").json()["items"])
    assert stats["submissions"] == 3
    assert (stats["scored"], stats["pending"]) == (3, 0)
    assert stats["mean_points"] == pytest.approx(sum(points) / 3, abs=1e-4)
    assert stats["min_points"] == points[0]
    assert stats["max_points"] == 10
    assert sum(d["count"] for d in stats["distribution"]) == 3
    assert stats["overridden"] == 1
    assert stats["override_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert stats["mean_override_difference"] == pytest.approx(10 - a["result"]["points"])
    criteria = {c["id"]: c["hit_rate"] for c in stats["criteria"]}
    assert set(criteria) == {c["id"] for c in rubric_data(Q)["criteria"]}
    assert criteria["leaders-named"] == pytest.approx(1 / 3, abs=1e-4)
    rates = [c["hit_rate"] for c in stats["criteria"]]
    assert rates == sorted(rates)  # most often missed first


def test_stats_of_an_unknown_question_is_404(instructor: TestClient) -> None:
    assert instructor.get("/v1/questions/nope/stats").status_code == 404


def test_csv_export_has_effective_scores_and_is_safe(
    lms: TestClient, instructor: TestClient
) -> None:
    normal = submit(lms, GOOD, learner_id="a")
    formula = submit(lms, '=HYPERLINK("http://x") secretly', learner_id="+b")
    override(instructor, normal["id"], 9, "ok")
    submit(lms, "Messages moved quickly.", learner_id="c", question_id="backchannel-q2")
    response = instructor.get(
        "/v1/exports/submissions.csv", params={"question_id": Q, "sort": "created_at"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["submission_id"] for r in rows] == [normal["id"], formula["id"]]
    assert rows[0]["points"] == "9.0"
    assert rows[0]["machine_points"] == str(normal["result"]["points"])
    assert rows[0]["overridden"] == "True"
    assert rows[1]["learner_id"] == "'+b"
    assert rows[1]["answer"].startswith("'=HYPERLINK")
