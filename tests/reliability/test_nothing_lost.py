"""Nothing lost under concurrent load, across a SIGKILL of the server, and under retries.

The server runs as a real ``python -m service serve`` subprocess on the test database;
clients are threads with their own HTTP connections. The invariant, checked in the
database: every submission that got a 2xx is stored exactly once, nothing the client was
told failed is stored, and a request that got no answer is stored at most once and, when
retried with the same Idempotency-Key, returns that row instead of creating another.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict

import httpx
from sqlalchemy import Engine, func, select

from service.db.models import IdempotencyRecord, Submission
from tests.conftest import auth
from tests.reliability.conftest import create_integration_key
from tests.reliability.load import (
    Attempt,
    Load,
    check_nothing_lost,
    final_attempts,
    new_attempt,
    retry_unknown,
    send,
    summary,
)
from tests.support.server import ServerProcess


def test_every_acknowledged_submission_is_stored_exactly_once(
    server: ServerProcess, clean_engine: Engine
) -> None:
    key = create_integration_key(server.base_url)
    load = Load(lambda: server.base_url, key, threads=8, per_thread=25).start()
    attempts = load.join()

    assert summary(attempts) == {"2xx": 200}, summary(attempts)
    stored = check_nothing_lost(clean_engine, attempts)
    assert len(stored) == 200


def test_sigkill_mid_load_loses_nothing_and_retries_create_no_duplicates(
    server: ServerProcess, clean_engine: Engine
) -> None:
    key = create_integration_key(server.base_url)
    base_url = server.base_url  # read by the clients; the restarted server has a new port
    load = Load(
        lambda: base_url, key, threads=8, per_thread=300, stop_on_transport_error=True
    ).start()
    load.wait_for(lambda: load.acknowledged() >= 40, timeout=60)
    server.kill()  # SIGKILL while every client has a request in flight
    attempts = load.join(stop=True)

    unanswered = [a for a in attempts if a.outcome_unknown]
    assert unanswered, "the kill should have cut off requests in flight"
    assert all(a.acknowledged or a.status is None for a in attempts), summary(attempts)
    stored = check_nothing_lost(clean_engine, attempts)

    server.restart()
    retried = retry_unknown(server.base_url, key, attempts, stored)
    assert len(retried) == len(unanswered)
    stored = check_nothing_lost(clean_engine, final_attempts(attempts, retried))
    assert len(stored) == len(attempts)


def test_concurrent_retries_of_the_same_keys_create_each_submission_once(
    server: ServerProcess, clean_engine: Engine
) -> None:
    """8 clients send the same 30 requests (same keys, same bodies), each in its own
    shuffled order, so most keys are in flight on several connections at once."""
    key = create_integration_key(server.base_url)
    requests = [new_attempt("same", index) for index in range(30)]
    answers: dict[str, list[tuple[int | None, str | None, str | None]]] = defaultdict(list)
    lock = threading.Lock()
    deadline = time.monotonic() + 90

    def client(seed: int) -> None:
        order = random.Random(seed).sample(requests, len(requests))
        with httpx.Client(headers=auth(key), timeout=30) as http:
            for template in order:
                if time.monotonic() > deadline:
                    return
                attempt = send(http, server.base_url, new_copy(template))
                with lock:
                    answers[template.learner_id].append(
                        (attempt.status, attempt.submission_id, attempt.code)
                    )

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
        assert not thread.is_alive()

    assert sum(len(replies) for replies in answers.values()) == 8 * 30
    for learner_id, replies in answers.items():
        assert {status for status, _, _ in replies} == {201}, (learner_id, replies)
        assert len({submission_id for _, submission_id, _ in replies}) == 1, replies
    stored = check_nothing_lost(
        clean_engine,
        [attempt_with(template, answers[template.learner_id][0][1]) for template in requests],
    )
    assert len(stored) == 30
    with clean_engine.connect() as connection:
        records = connection.scalar(select(func.count()).select_from(IdempotencyRecord))
        submissions = connection.scalar(select(func.count()).select_from(Submission))
    assert (records, submissions) == (30, 30)


def new_copy(template: Attempt) -> Attempt:
    return Attempt(template.learner_id, template.idempotency_key, template.body)


def attempt_with(template: Attempt, submission_id: str | None) -> Attempt:
    """The request as the client finally knows it: acknowledged, with this id."""
    return Attempt(
        template.learner_id,
        template.idempotency_key,
        template.body,
        status=201,
        submission_id=submission_id,
    )
