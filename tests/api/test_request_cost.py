"""What one submission costs the database: the statements of POST /v1/submissions.

Issue 13 made the request path lean (docs/performance.md); these tests keep it so as
features are added. They count statements, not time: a new statement on the hot path
fails here, with the list, instead of showing up months later as a slower deadline.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, text

BODY = {"question_id": "backchannel-q1", "learner_id": "cost-1", "answer": "They met in secret."}


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The statements the app sends while the block runs, as "VERB table" (BEGIN/COMMIT
    and savepoints by name)."""
    seen: list[str] = []

    def record(_c: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = re.findall(r"[A-Za-z_]+", statement)
        verb = words[0].upper()
        if verb == "SELECT":  # the first table it reads from
            seen.append(f"SELECT {words[[w.upper() for w in words].index('FROM') + 1]}")
        elif verb == "UPDATE":
            seen.append(f"UPDATE {words[1]}")
        elif verb in ("INSERT", "DELETE"):  # INSERT INTO t, DELETE FROM t
            seen.append(f"{verb} {words[2]}")
        else:
            seen.append(" ".join(words[:2]).upper())

    engine = app.state.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _data_statements(seen: list[str]) -> list[str]:
    """Without transaction control, and without the key lookup: whether the key is still
    cached depends on the time since the last request (GRADER_KEY_CACHE_SECONDS), which a
    loaded machine stretches; test_key_cache_serves_a_burst checks the cache itself."""
    control = ("BEGIN", "COMMIT", "RELEASE", "SAVEPOINT", "SELECT api_key")
    return [s for s in seen if not s.startswith(control)]


def test_a_keyed_submission_reads_twice_and_writes_three_rows(
    lms: TestClient, app: FastAPI
) -> None:
    assert lms.post("/v1/submissions", json=BODY).status_code == 201  # warm: key cached
    with statements(app) as seen:
        response = lms.post(
            "/v1/submissions",
            json={**BODY, "learner_id": "cost-2"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
    assert response.status_code == 201, response.text
    assert _data_statements(seen) == [
        "SELECT idempotency_record",
        "SELECT question",
        "INSERT submission",
        "INSERT grading_result",
        "INSERT idempotency_record",
    ], seen
    # No savepoint: the record is written once, with the response.
    assert not any(s.startswith(("SAVEPOINT", "RELEASE")) for s in seen), seen


def test_a_replay_reads_only_its_record(lms: TestClient, app: FastAPI) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = lms.post("/v1/submissions", json=BODY, headers=key)
    with statements(app) as seen:
        replay = lms.post("/v1/submissions", json=BODY, headers=key)
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert _data_statements(seen) == ["SELECT idempotency_record"], seen


def test_groups_are_marked_stale_once_not_per_answer(
    lms: TestClient, client: TestClient, app: FastAPI
) -> None:
    """Once the question's groups exist and are marked, later answers skip the UPDATE that
    every answer of a class would otherwise queue behind (the row's lock)."""
    for n in range(3):
        assert lms.post("/v1/submissions", json={**BODY, "learner_id": f"g{n}"}).status_code == 201
    assert client.get("/v1/questions/backchannel-q1/groups").status_code == 200  # computed
    # As a computation leaves the row once the answers settled (SETTLE): not stale.
    with app.state.engine.begin() as connection:
        connection.execute(text("UPDATE answer_grouping SET stale_at = NULL"))
    with statements(app) as first:
        assert lms.post("/v1/submissions", json={**BODY, "learner_id": "g3"}).status_code == 201
    with statements(app) as second:
        assert lms.post("/v1/submissions", json={**BODY, "learner_id": "g4"}).status_code == 201
    assert "UPDATE answer_grouping" in first, first
    assert "UPDATE answer_grouping" not in second, second


def test_key_cache_serves_a_burst(lms: TestClient, app: FastAPI) -> None:
    """Back-to-back requests of one key look it up once (the cache is per process and holds
    an entry for GRADER_KEY_CACHE_SECONDS, so allow one more lookup on a slow machine)."""
    with statements(app) as seen:
        for n in range(5):
            body = {**BODY, "learner_id": f"burst-{n}"}
            assert lms.post("/v1/submissions", json=body).status_code == 201
    assert seen.count("SELECT api_key") <= 2, seen
