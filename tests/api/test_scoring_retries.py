"""Scoring that fails is retried by the background worker with backoff; one that keeps
failing becomes ``error``, visible to instructors and, in plain words, to the learner."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from service.config import Settings
from service.db.base import utcnow
from service.db.models import RubricVersion, Submission
from service.db.session import make_sessionmaker, session_scope
from service.domain.submissions.presenters import ERROR_MESSAGE
from service.scoring import Grader
from service.worker import run_once
from tests.factories import submit

ANSWER = "Kennedy and Khrushchev negotiated secretly and avoided war."
BASE_DELAY = timedelta(seconds=60)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"scoring_max_attempts": 3, "scoring_base_delay_seconds": 60.0}
    )


class EngineFault:
    """Fault injection into our own code, not a mock of it: the running app's grader cache
    raises for one question's rubric (as an engine bug or a corrupt rubric would), for the
    next ``times`` gradings (None: always). Everything else runs for real."""

    def __init__(self, app: FastAPI, monkeypatch: pytest.MonkeyPatch, question_id: str) -> None:
        self.graders = app.state.graders
        self.original: Callable[[RubricVersion], Grader] = self.graders.get
        self.question_id = question_id
        self.remaining: int | None = None
        monkeypatch.setattr(self.graders, "get", self._get)

    def fail(self, times: int | None) -> None:
        self.remaining = times

    def _get(self, version: RubricVersion) -> Grader:
        failing = self.remaining is None or self.remaining > 0
        if version.content["id"] == self.question_id and failing:
            if self.remaining is not None:
                self.remaining -= 1
            raise RuntimeError("engine fault injected by the test")
        return self.original(version)


def stored(engine: Engine, submission_id: str) -> Submission:
    with session_scope(make_sessionmaker(engine)) as session:
        row = session.scalars(
            select(Submission).where(Submission.id == uuid.UUID(submission_id))
        ).one()
        session.expunge(row)
        return row


def make_due(engine: Engine, submission_id: str) -> None:
    """Move the next try to now, as if the backoff delay had passed (no sleeping)."""
    with engine.begin() as connection:
        connection.execute(
            update(Submission)
            .where(Submission.id == uuid.UUID(submission_id))
            .values(next_scoring_at=utcnow())
        )


def work(app: FastAPI, settings: Settings) -> tuple[datetime, datetime]:
    """One round of the background worker; the moments just before and after it."""
    before = utcnow()
    run_once(app.state.sessionmaker, app.state.graders, settings)
    return before, utcnow()


def feedback(client: TestClient, created: dict[str, Any]) -> dict[str, Any]:
    token = created["feedback_url"].rsplit("/", 1)[1]
    response = client.get(f"/v1/feedback/{token}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_failing_scoring_is_retried_with_backoff_then_becomes_error(
    app: FastAPI,
    client: TestClient,
    lms: TestClient,
    instructor: TestClient,
    anon: TestClient,
    clean_engine: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    EngineFault(app, monkeypatch, "backchannel-q1").fail(None)
    posted_at = utcnow()
    created = submit(lms, ANSWER, expected_status=202)
    row = stored(clean_engine, created["id"])
    assert (row.status, row.scoring_attempts) == ("pending", 1)
    assert row.next_scoring_at is not None
    assert posted_at + BASE_DELAY <= row.next_scoring_at <= utcnow() + BASE_DELAY

    # Not due yet: the worker leaves it alone.
    work(app, settings)
    assert stored(clean_engine, created["id"]).scoring_attempts == 1

    make_due(clean_engine, created["id"])
    before, after = work(app, settings)
    row = stored(clean_engine, created["id"])
    assert (row.status, row.scoring_attempts, row.scoring_error) == ("pending", 2, None)
    assert row.next_scoring_at is not None
    assert before + 2 * BASE_DELAY <= row.next_scoring_at <= after + 2 * BASE_DELAY
    assert instructor.get(f"/v1/submissions/{created['id']}").json()["status"] == "pending"

    make_due(clean_engine, created["id"])
    work(app, settings)
    row = stored(clean_engine, created["id"])
    assert (row.status, row.scoring_attempts, row.next_scoring_at) == ("error", 3, None)

    seen = instructor.get(f"/v1/submissions/{created['id']}").json()
    assert seen["status"] == "error"
    assert seen["scoring_error"] == "The rubric could not score this answer (engine error)."
    assert seen["points"] is None
    assert seen["result"] is None
    assert seen["answer"] == ANSWER
    listed = instructor.get("/v1/submissions", params={"status": "error"}).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    assert instructor.get("/v1/submissions", params={"status": "pending"}).json()["items"] == []

    learner = feedback(anon, created)
    assert learner["status"] == "error"
    assert learner["points"] is None
    assert learner["message"] == ERROR_MESSAGE
    assert "safe" in learner["message"]
    assert "by hand" in learner["message"]
    assert "Traceback" not in str(learner)
    assert "RuntimeError" not in str(seen)

    # Given up: no further tries, even once "due" again.
    make_due(clean_engine, created["id"])
    work(app, settings)
    assert stored(clean_engine, created["id"]).scoring_attempts == 3

    # The teacher grades it by hand.
    override = instructor.post(
        f"/v1/submissions/{created['id']}/overrides",
        json={"points": 7.5, "reason": "graded by hand: engine error"},
    )
    assert override.status_code == 201, override.text
    graded = instructor.get(f"/v1/submissions/{created['id']}").json()
    assert (graded["status"], graded["points"], graded["overridden"]) == ("error", 7.5, True)
    learner = feedback(anon, created)
    assert (learner["points"], learner["adjusted_by_instructor"]) == (7.5, True)
    assert learner["message"] is None


def test_transient_scoring_failure_ends_scored_on_the_next_try(
    app: FastAPI,
    client: TestClient,
    lms: TestClient,
    instructor: TestClient,
    anon: TestClient,
    clean_engine: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    EngineFault(app, monkeypatch, "backchannel-q1").fail(1)
    created = submit(lms, ANSWER, expected_status=202)
    assert feedback(anon, created)["status"] == "pending"

    make_due(clean_engine, created["id"])
    work(app, settings)
    row = stored(clean_engine, created["id"])
    assert (row.status, row.scoring_attempts, row.next_scoring_at) == ("scored", 2, None)

    seen = instructor.get(f"/v1/submissions/{created['id']}").json()
    assert seen["status"] == "scored"
    assert seen["scoring_error"] is None
    assert seen["message"] is None
    assert seen["points"] == seen["result"]["points"]
    assert seen["points"] > 0
    learner = feedback(anon, created)
    assert (learner["status"], learner["points"], learner["message"]) == (
        "scored",
        seen["points"],
        None,
    )


def test_other_questions_are_scored_while_one_keeps_failing(
    app: FastAPI,
    client: TestClient,
    lms: TestClient,
    clean_engine: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    EngineFault(app, monkeypatch, "backchannel-q1").fail(None)
    failing = submit(lms, ANSWER, expected_status=202)
    healthy = submit(lms, ANSWER, question_id="backchannel-q2", expected_status=201)
    make_due(clean_engine, failing["id"])
    work(app, settings)
    assert stored(clean_engine, failing["id"]).scoring_attempts == 2
    assert stored(clean_engine, healthy["id"]).scoring_attempts == 1
    assert stored(clean_engine, healthy["id"]).status == "scored"
