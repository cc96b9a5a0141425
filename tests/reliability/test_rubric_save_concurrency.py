"""Saving a large rubric does not hold up other requests.

Compiling a rubric (validation, TF-IDF, coverage checks) takes seconds for a large one. On
SQLite the write lock is one for the whole database, so if the save compiled inside its
write transaction every concurrent submission and feedback read would wait for it. The
server is a real ``python -m service serve`` subprocess; the rubric is slow to compile by
its size alone (no sleeps), within the documented limits (40 criteria x 45 phrasings).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.conftest import ADMIN_KEY, auth
from tests.reliability.conftest import create_integration_key
from tests.support.server import ServerProcess

WORDS = (
    "crisis missile channel secret leader message treaty signal bluff war peace trust talk "
    "envoy embassy letter pressure public private blockade ship nuclear deal trade offer"
).split()
ANSWER = "Kennedy and Khrushchev negotiated secretly and avoided war."
# One LMS and one student, each sending back to back.
CLIENT_PAIRS = 1


def large_rubric(criteria: int = 40, phrasings: int = 45, references: int = 20) -> dict[str, Any]:
    """A rubric whose compilation takes seconds: many criteria, phrasings and long references
    (each reference covers every criterion, as validation requires). About 245 kB of JSON,
    under the default 256 KiB body limit; compiling it takes from half a second to seconds."""
    rnd = random.Random(7)

    def words(n: int) -> str:
        return " ".join(f"{rnd.choice(WORDS)}{rnd.randrange(400)}" for _ in range(n))

    rows: list[dict[str, Any]] = [
        {
            "id": f"idea-{i}",
            "description": words(12),
            "weight": 1,
            "phrasings": [words(4) for _ in range(phrasings)],
            "feedback": {"hit": "Good.", "miss": "Think about another idea."},
        }
        for i in range(criteria)
    ]
    covering = " ".join(f"{row['phrasings'][0]}." for row in rows)
    return {
        "title": "A large rubric",
        "prompt": "Explain the crisis.",
        "max_points": 10,
        "reference_answers": [f"{covering} {words(400)}"[:5000] for _ in range(references)],
        "criteria": rows,
    }


SMALL_RUBRIC: dict[str, Any] = {
    "id": "large-q",
    "title": "Soon a large rubric",
    "prompt": "Explain the crisis.",
    "max_points": 10,
    "reference_answers": ["The leaders talked in secret and avoided war."],
    "criteria": [
        {
            "id": "secret-talks",
            "description": "Secret talks",
            "phrasings": ["secret"],
            "feedback": {"hit": "Yes.", "miss": "Think about how they talked."},
        }
    ],
}


@dataclass
class Requests:
    """(start, end, problem) of every request one kind of client sent."""

    sent: list[tuple[float, float, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, start: float, end: float, problem: str | None) -> None:
        with self.lock:
            self.sent.append((start, end, problem))

    def overlapping(self, start: float, end: float) -> list[tuple[float, float, str | None]]:
        """Requests in flight at some moment of [start, end]."""
        return [r for r in self.sent if r[1] > start and r[0] < end]


def keep_sending(send: Any, expected: int, done: threading.Event, requests: Requests) -> None:
    """Send requests back to back until the save is done."""
    while not done.is_set():
        started = time.perf_counter()
        try:
            status: int | str = send().status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        requests.record(started, time.perf_counter(), None if status == expected else f"{status}")


def test_saving_a_large_rubric_does_not_block_submissions_or_feedback(
    server: ServerProcess,
) -> None:
    base = server.base_url
    lms_key = create_integration_key(base)
    instructor_key = httpx.post(
        f"{base}/v1/keys",
        json={"name": "instructor", "role": "instructor", "course_ids": ["default"]},
        headers=auth(ADMIN_KEY),
        timeout=30,
    ).json()["key"]
    instructor = httpx.Client(base_url=base, headers=auth(instructor_key), timeout=60)
    assert instructor.post("/v1/questions", json=SMALL_RUBRIC).status_code == 201
    body = {"question_id": "backchannel-q2", "learner_id": "s1", "answer": ANSWER}
    first = httpx.post(f"{base}/v1/submissions", json=body, headers=auth(lms_key), timeout=30)
    assert first.status_code == 201, first.text
    feedback_path = "/v1/feedback/" + first.json()["feedback_url"].rsplit("/", 1)[1]

    done = threading.Event()
    submissions, reads = Requests(), Requests()
    threads = []
    clients = [instructor]
    for _ in range(CLIENT_PAIRS):
        lms = httpx.Client(base_url=base, headers=auth(lms_key), timeout=60)
        student = httpx.Client(base_url=base, timeout=60)
        clients += [lms, student]
        threads += [
            threading.Thread(
                target=keep_sending,
                args=(lambda c=lms: c.post("/v1/submissions", json=body), 201, done, submissions),
            ),
            threading.Thread(
                target=keep_sending,
                args=(lambda c=student: c.get(feedback_path), 200, done, reads),
            ),
        ]
    for thread in threads:
        thread.start()
    try:
        rubric = large_rubric()
        started = time.perf_counter()
        saved = instructor.put("/v1/questions/large-q/rubric", json=rubric)
        ended = time.perf_counter()
        save_seconds = ended - started
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=60)
        for client in clients:
            client.close()

    assert saved.status_code == 200, saved.text
    assert saved.json()["rubric_version"] == 2
    during = submissions.overlapping(started, ended) + reads.overlapping(started, ended)
    assert [problem for *_, problem in submissions.sent + reads.sent if problem] == []
    # A held lock shows as a stretch of the save in which no other request finishes: every
    # request in flight waits for the compile, the bulk of the save. Not holding it, requests
    # keep finishing throughout; the longest quiet stretch is about one request's latency,
    # which on a loaded machine grows with the save itself, so it is compared with the save
    # rather than with a fixed time.
    finished = sorted(end for _, end, _ in during if started < end < ended)
    marks = [started, *finished, ended]
    quietest = max(later - earlier for earlier, later in itertools.pairwise(marks))
    assert quietest < save_seconds / 2, (
        f"no request finished for {quietest:.2f} s of a {save_seconds:.2f} s save"
    )
    # Enough requests ran during the save to have met any lock it held (this, not the save's
    # duration, says whether the test could show anything).
    assert len(submissions.overlapping(started, ended)) >= 5
    assert len(reads.overlapping(started, ended)) >= 5
