"""A bounded, threaded load of idempotent submissions, and the "nothing lost" check.

Every request carries a unique learner id and Idempotency-Key, so each row in the database
can be traced to the one request that may have created it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine, select

from service.db.models import Submission
from tests.conftest import auth

ANSWERS = [
    "Kennedy and Khrushchev sent secret messages to each other, which helped them avoid war.",
    "The leaders negotiated privately through a backchannel and found a compromise.",
    "They talked.",
    "No idea.",
]
REQUEST_TIMEOUT_SECONDS = 30.0
# Responses after which the request is known not to have been stored.
UNKNOWN_OUTCOME_CODES = frozenset({"commit_outcome_unknown"})


@dataclass
class Attempt:
    """One logical submission and what the client learnt about it."""

    learner_id: str
    idempotency_key: str
    body: dict[str, str]
    status: int | None = None  # None: no response (connection lost, timeout)
    code: str | None = None  # problem "code" of an error response
    submission_id: str | None = None
    elapsed: float = 0.0
    started: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = ""

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def told_failed(self) -> bool:
        """An error response that promises nothing was stored."""
        return (
            self.status is not None
            and not self.acknowledged
            and self.code not in UNKNOWN_OUTCOME_CODES
        )

    @property
    def outcome_unknown(self) -> bool:
        return not self.acknowledged and not self.told_failed


def new_attempt(tag: str, index: int) -> Attempt:
    learner_id = f"rel-{tag}-{index}-{uuid.uuid4().hex[:8]}"
    return Attempt(
        learner_id=learner_id,
        idempotency_key=f"key-{learner_id}",
        body={
            "question_id": "backchannel-q1",
            "learner_id": learner_id,
            "answer": ANSWERS[index % len(ANSWERS)],
        },
    )


def send(client: httpx.Client, base_url: str, attempt: Attempt) -> Attempt:
    """POST the attempt once, recording the response (or its absence) on it."""
    attempt.started = time.monotonic()
    try:
        response = client.post(
            f"{base_url}/v1/submissions",
            json=attempt.body,
            headers={"Idempotency-Key": attempt.idempotency_key},
        )
    except httpx.TransportError:
        attempt.status, attempt.code = None, None
    else:
        attempt.status = response.status_code
        attempt.headers = dict(response.headers)
        attempt.content_type = response.headers.get("content-type", "")
        payload: Any = response.json() if response.content else {}
        if attempt.acknowledged:
            attempt.submission_id = payload["id"]
        else:
            attempt.code = payload.get("code") if isinstance(payload, dict) else None
    attempt.elapsed = time.monotonic() - attempt.started
    return attempt


@dataclass
class Load:
    """``threads`` clients, each sending up to ``per_thread`` new submissions in a row.

    Bounded by count, by ``deadline_seconds`` and by ``stop``; a client stops early on a
    lost connection when ``stop_on_transport_error`` (the server was killed).
    """

    base_url: Callable[[], str]
    key: str
    threads: int = 8
    per_thread: int = 50
    deadline_seconds: float = 90.0
    stop_on_transport_error: bool = False
    pause_after_error: float = 0.05
    stop: threading.Event = field(default_factory=threading.Event)
    attempts: list[Attempt] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        deadline = time.monotonic() + self.deadline_seconds
        for number in range(self.threads):
            thread = threading.Thread(target=self._run, args=(number, deadline), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def _run(self, number: int, deadline: float) -> None:
        with httpx.Client(headers=auth(self.key), timeout=REQUEST_TIMEOUT_SECONDS) as client:
            for index in range(self.per_thread):
                if self.stop.is_set() or time.monotonic() > deadline:
                    return
                attempt = send(client, self.base_url(), new_attempt(f"t{number}", index))
                with self._lock:
                    self.attempts.append(attempt)
                if attempt.status is None and self.stop_on_transport_error:
                    return
                if not attempt.acknowledged:
                    time.sleep(self.pause_after_error)

    def acknowledged(self) -> int:
        with self._lock:
            return sum(a.acknowledged for a in self.attempts)

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "load did not reach the expected state in time"
            time.sleep(0.02)

    def join(
        self, *, stop: bool = False, timeout: float = REQUEST_TIMEOUT_SECONDS + 60
    ) -> list[Attempt]:
        """Wait for every client (told to stop first if ``stop``); all attempts made."""
        if stop:
            self.stop.set()
        for thread in self._workers:
            thread.join(timeout)
            assert not thread.is_alive(), "a load client did not finish in time"
        return list(self.attempts)


def stored_rows(engine: Engine, prefix: str = "rel-") -> dict[str, list[str]]:
    """learner id -> ids of the submissions stored for it, straight from the database."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(Submission.learner_id, Submission.id).where(
                Submission.learner_id.startswith(prefix)
            )
        ).all()
    stored: dict[str, list[str]] = {}
    for learner_id, submission_id in rows:
        stored.setdefault(learner_id, []).append(str(submission_id))
    return stored


def check_nothing_lost(engine: Engine, attempts: Iterable[Attempt]) -> dict[str, list[str]]:
    """Every 2xx is stored exactly once (with the id the client got), nothing the client
    was told failed is stored, an unanswered request is stored at most once, and nothing
    is stored that no request asked for."""
    attempts = list(attempts)
    stored = stored_rows(engine)
    by_learner = {a.learner_id: a for a in attempts}
    assert len(by_learner) == len(attempts), "learner ids must be unique per attempt"
    problems: list[str] = []
    for attempt in attempts:
        rows = stored.get(attempt.learner_id, [])
        if attempt.acknowledged and rows != [attempt.submission_id]:
            problems.append(f"2xx {attempt.learner_id}: stored {rows}")
        elif attempt.told_failed and rows:
            problems.append(f"{attempt.status} {attempt.code} {attempt.learner_id}: stored {rows}")
        elif attempt.outcome_unknown and len(rows) > 1:
            problems.append(f"unanswered {attempt.learner_id}: stored {rows}")
    strays = set(stored) - set(by_learner)
    if strays:
        problems.append(f"rows no request asked for: {sorted(strays)[:5]}")
    assert not problems, "\n".join(problems[:20])
    return stored


def retry_unknown(
    base_url: str, key: str, attempts: Iterable[Attempt], stored: dict[str, list[str]]
) -> list[Attempt]:
    """Retry every request whose outcome the client does not know, with the same key and
    body, as an LMS would: each must now succeed, returning the row that was stored before
    (if any), never a second one."""
    retried = []
    with httpx.Client(headers=auth(key), timeout=REQUEST_TIMEOUT_SECONDS) as client:
        for attempt in attempts:
            if not attempt.outcome_unknown:
                continue
            before = stored.get(attempt.learner_id, [])
            again = Attempt(attempt.learner_id, attempt.idempotency_key, attempt.body)
            send(client, base_url, again)
            assert again.status == 201, (again.status, again.code)
            if before:
                assert [again.submission_id] == before
                assert again.headers.get("idempotent-replayed") == "true"
            retried.append(again)
    return retried


def final_attempts(attempts: list[Attempt], retried: list[Attempt]) -> list[Attempt]:
    """The attempts with each retried one replaced by its retry."""
    by_learner = {a.learner_id: a for a in retried}
    return [by_learner.get(a.learner_id, a) for a in attempts]


def summary(attempts: Iterable[Attempt]) -> Counter[str]:
    return Counter(
        "2xx" if a.acknowledged else ("no response" if a.status is None else f"{a.status}")
        for a in attempts
    )
