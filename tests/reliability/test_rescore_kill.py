"""A rescoring job whose worker process is SIGKILLed mid-job resumes in another worker and
finishes with correct counts, and no submission is scored twice by the new rubric.

Submissions are created through the app in-process (fast), the job runs in real
``python -m service worker`` subprocesses with small batches and a short lease, and every
count is checked against the database and against the engine run independently here.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from service.db.models import GradingResult, RescoreJob, RubricVersion, Submission
from service.db.session import SQLITE_BEGIN_OPTION
from service.domain.rubrics.service import GraderCache
from tests.reliability.load import ANSWERS
from tests.support.server import ServiceProcess

Q = "backchannel-q1"
SUBMISSIONS = 300
BATCH_SIZE = 3
LEASE_SECONDS = 2.0
EXTRA_ANSWERS = [
    "They negotiated secretly and avoided war through a deal on missiles in Turkey.",
    "Robert Kennedy met Dobrynin privately; the messages let each side gauge intentions.",
    "Letters went back and forth.",
]


def reader(engine: Engine) -> Engine:
    """Reads that never wait for SQLite's write lock (which the worker holds per batch)."""
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})


def job_row(engine: Engine, job_id: str) -> RescoreJob:
    with Session(reader(engine)) as session:
        job = session.get(RescoreJob, uuid.UUID(job_id))
        assert job is not None
        session.expunge(job)
        return job


def wait_for_job(
    engine: Engine, job_id: str, done: object, timeout: float, worker: ServiceProcess
) -> RescoreJob:
    deadline = time.monotonic() + timeout
    while True:
        job = job_row(engine, job_id)
        if done(job):  # type: ignore[operator]
            return job
        assert worker.running(), f"worker died:\n{worker.log_tail()}"
        assert time.monotonic() < deadline, (job.status, job.processed, worker.log_tail())
        time.sleep(0.01)


def test_rescore_job_killed_mid_job_resumes_with_correct_counts(
    lms: TestClient,
    instructor: TestClient,
    server_env: dict[str, str],
    clean_engine: Engine,
    tmp_path: Path,
) -> None:
    answers = [*ANSWERS, *EXTRA_ANSWERS]
    items = [
        {"question_id": Q, "learner_id": f"learner-{i}", "answer": f"{answers[i % 7]} ({i})"}
        for i in range(SUBMISSIONS)
    ]
    created = lms.post("/v1/submissions/batch", json={"items": items})
    assert created.status_code == 200, created.text
    assert created.json()["created"] == SUBMISSIONS

    rubric = instructor.get(f"/v1/questions/{Q}/rubric-versions").json()["items"][-1]["rubric"]
    rubric.pop("id", None)
    rubric["criteria"] = rubric["criteria"][1:]  # drop a criterion: many scores change
    saved = instructor.put(f"/v1/questions/{Q}/rubric", json=rubric)
    assert saved.status_code == 200, saved.text
    job_id = instructor.post(f"/v1/questions/{Q}/rescore").json()["id"]

    with clean_engine.connect() as connection:
        before = dict(connection.execute(select(Submission.id, Submission.machine_points)).all())
    assert len(before) == SUBMISSIONS

    env = {
        **server_env,
        "GRADER_JOB_BATCH_SIZE": str(BATCH_SIZE),
        "GRADER_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "GRADER_WORKER_POLL_SECONDS": "0.1",
    }
    first = ServiceProcess(["worker"], env, tmp_path / "worker-1.log")
    second = ServiceProcess(["worker"], env, tmp_path / "worker-2.log")
    try:
        first.start()
        wait_for_job(clean_engine, job_id, lambda j: j.processed > 0, timeout=90, worker=first)
        first.kill()
        killed = job_row(clean_engine, job_id)
        assert killed.status == "running"
        assert 0 < killed.processed < SUBMISSIONS, "the kill must land mid-job"
        # Only committed batches count: exactly `processed` submissions have a new result.
        assert count_new_results(clean_engine, killed.rubric_version_id) == killed.processed

        second.start()
        job = wait_for_job(
            clean_engine, job_id, lambda j: j.status != "running", timeout=180, worker=second
        )
    finally:
        first.kill()
        second.stop()

    assert (job.status, job.total, job.processed, job.failed) == (
        "succeeded",
        SUBMISSIONS,
        SUBMISSIONS,
        0,
    )
    with Session(clean_engine) as session:
        version = session.get(RubricVersion, job.rubric_version_id)
        assert version is not None
        rows = session.execute(
            select(GradingResult.submission_id, GradingResult.points).where(
                GradingResult.rubric_version_id == version.id
            )
        ).all()
        per_submission = Counter(submission_id for submission_id, _ in rows)
        # Exactly one result by the new rubric each: the batch cut off by the kill was
        # rolled back and done again, not done twice.
        assert set(per_submission) == set(before)
        assert set(per_submission.values()) == {1}, per_submission.most_common(3)
        new_points = dict(rows)
        # The stored points are what the engine gives (checked here, independently).
        grader = GraderCache().get(version)
        answers_by_id = dict(session.execute(select(Submission.id, Submission.answer)).all())
        for submission_id, points in new_points.items():
            assert grader.grade(answers_by_id[submission_id]).points == points
        current = dict(session.execute(select(Submission.id, Submission.machine_points)).all())
    assert current == new_points
    changed = sum(before[s] != new_points[s] for s in before)
    assert job.changed == changed
    assert 0 < changed < SUBMISSIONS, "the data should have both changed and unchanged scores"


def count_new_results(engine: Engine, version_id: int) -> int:
    with reader(engine).connect() as connection:
        count = connection.scalar(
            select(func.count())
            .select_from(GradingResult)
            .where(GradingResult.rubric_version_id == version_id)
        )
    return int(count or 0)
