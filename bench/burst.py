"""Deadline-burst benchmark: 300 learners submit within seconds of a deadline, against two API
processes and a worker on one PostgreSQL database, and every score must reach the LMS.

    .venv/bin/python -m bench.burst \\
        --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_burst
    .venv/bin/python -m bench.burst --learners 20 --repeat 1     # SQLite file, a smoke run

The PostgreSQL database's ``public`` schema is DROPPED and rebuilt (give it a throwaway
one); without ``--postgres-url`` a temporary SQLite file is used, which is only a smoke run.
It migrates the database, starts two ``python -m service serve`` processes on free
127.0.0.1 ports (``GRADER_WORKER_ENABLED=false``) and one ``python -m service worker``,
creates an integration key and points its callback at a receiver on 127.0.0.1 run by this
script (``GRADER_CALLBACK_ALLOW_HTTP=true``, ``GRADER_CALLBACK_ALLOWED_HOSTS=127.0.0.1/32``,
as the tests allow their receivers). The receiver verifies every callback's Standard
Webhooks signature with the secret the service returned, and records the first callback of
each submission (deliveries are retried, so it counts distinct ones).

Each run: ``--learners`` learners (asyncio tasks, one connection each) start at random
moments within ``--window`` seconds, alternate between the two processes, and post one
answer each (from ``bench.scoring``'s corpus of the seed questions) with an Idempotency-Key.
On 503, 429 or a connection error they retry with the same key and body on the other
process, after Retry-After when given, else an exponential backoff with jitter. A share
(``--resend``) of learners resend their request once after success, as an LMS that missed
the answer would (retrying the same way); the service must replay the same submission.

Rate limits stay as a school would run them (the defaults: 3,000 requests a minute per
integration key, per process); a 429 is retried after its Retry-After.

Reported per run and as medians over ``--repeat`` runs: accepted (2xx), rejected by final
status, retries, resends (and whether each replayed the same id), stored rows and
duplicates (rows beyond one per learner, counted in the database), p50/p99 latency from a
learner's first attempt to its success, the time from the window's start to the last
callback, and the p50 time from acceptance to callback. Exits 1 when stored != accepted,
any duplicate exists, a resend got another submission, a callback is missing or has a bad
signature.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select
from standardwebhooks import Webhook, WebhookVerificationError

from bench._server import (
    ADMIN_KEY,
    Connection,
    Response,
    is_loopback_url,
    migrated_env,
    progress,
    reset_postgres,
)
from bench.scoring import RUBRICS, SEED, corpus
from service.db.models import Submission
from service.domain.rubrics.service import build_grader, load_rubric_file
from tests.support.server import ServerProcess, ServiceProcess, create_integration_key

REQUEST_TIMEOUT_SECONDS = 30.0
MAX_ATTEMPTS = 10
MAX_BACKOFF_SECONDS = 5.0
RETRIED_STATUSES = frozenset({0, 429, 503})  # 0: no answer (connection error, timeout)


@dataclass(frozen=True)
class Arrival:
    submission_id: str
    points: float | None
    at: float  # time.perf_counter()


class CallbackReceiver:
    """The LMS's callback endpoint: verifies each signature, records each submission's first
    callback by learner id. Answers 204, or 401 to a bad signature (which is counted)."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.arrivals: dict[str, Arrival] = {}
        self.requests = 0
        self.bad_signatures = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {name.lower(): value for name, value in self.headers.items()}
                self.send_response(204 if receiver.record(body, headers) else 401)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/grades"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def record(self, body: bytes, headers: dict[str, str]) -> bool:
        now = time.perf_counter()
        try:
            assert self.secret is not None
            Webhook(self.secret).verify(body, headers)
        except (AssertionError, WebhookVerificationError):
            with self.lock:
                self.requests += 1
                self.bad_signatures += 1
            return False
        submission = json.loads(body)["submission"]
        with self.lock:
            self.requests += 1
            self.arrivals.setdefault(
                submission["learner_id"],
                Arrival(str(submission["id"]), submission.get("points"), now),
            )
        return True

    def arrived(self, learner_ids: set[str]) -> dict[str, Arrival]:
        with self.lock:
            return {k: v for k, v in self.arrivals.items() if k in learner_ids}

    def __enter__(self) -> CallbackReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class Plan:
    learner_id: str
    idempotency_key: str
    body: bytes
    start_after: float  # seconds after the window opens
    resend: bool
    first_server: int


@dataclass
class Outcome:
    plan: Plan
    status: int = 0
    submission_id: str | None = None
    first_attempt_at: float = 0.0
    accepted_at: float | None = None
    statuses: list[int] = field(default_factory=list)
    resend_statuses: list[int] = field(default_factory=list)
    # Whether the resend's 2xx named the same submission (None: not resent or not answered).
    resend_same_id: bool | None = None

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    @property
    def latency_ms(self) -> float:
        assert self.accepted_at is not None
        return (self.accepted_at - self.first_attempt_at) * 1000


@dataclass(frozen=True)
class RunResult:
    learners: int
    accepted: int
    rejected: dict[int, int]
    retries: int
    retried_on: dict[int, int]  # status of each attempt that was retried (0: no answer)
    resends: int
    resends_same_id: int
    resends_other_id: int
    stored: int
    duplicates: int
    p50_ms: float
    p99_ms: float
    callbacks: int
    callback_id_mismatches: int
    last_callback_s: float
    p50_to_callback_s: float
    bad_signatures: int

    @property
    def failures(self) -> list[str]:
        problems = []
        if self.stored != self.accepted:
            problems.append(f"stored {self.stored} != accepted {self.accepted}")
        if self.duplicates:
            problems.append(f"{self.duplicates} duplicate rows")
        if self.resends_other_id:
            problems.append(f"{self.resends_other_id} resends answered with another submission")
        if unanswered := self.resends - self.resends_same_id - self.resends_other_id:
            problems.append(f"{unanswered} resends not answered 2xx after {MAX_ATTEMPTS} tries")
        if self.callbacks != self.accepted or self.callback_id_mismatches:
            problems.append(
                f"callbacks {self.callbacks}/{self.accepted}, "
                f"{self.callback_id_mismatches} naming another submission"
            )
        if self.bad_signatures:
            problems.append(f"{self.bad_signatures} callbacks with a bad signature")
        return problems


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def answer_pool() -> list[tuple[str, str]]:
    """(question id, answer) pairs: the scoring benchmark's fixed corpus, blank ones left out
    (the API refuses them with 422, which is not what a burst measures)."""
    rng = random.Random(SEED)
    pool = []
    for path in sorted(RUBRICS.glob("*.yaml")):
        rubric = load_rubric_file(path)
        pool += [(path.stem, a) for a in corpus(build_grader(rubric), rng) if a.strip()]
    return pool


def plans(args: argparse.Namespace, run: int, pool: list[tuple[str, str]]) -> list[Plan]:
    rng = random.Random(SEED + run)
    tag = uuid.uuid4().hex[:8]
    result = []
    for index in range(args.learners):
        question_id, answer = pool[rng.randrange(len(pool))]
        learner_id = f"burst-{run}-{index:04d}"
        body = {"question_id": question_id, "learner_id": learner_id, "answer": answer}
        result.append(
            Plan(
                learner_id=learner_id,
                idempotency_key=f"burst-{tag}-{index}",
                body=json.dumps(body).encode(),
                start_after=rng.uniform(0, args.window),
                resend=rng.random() < args.resend,
                first_server=index % 2,
            )
        )
    return result


async def send(port: int, key: str, plan: Plan) -> Response:
    """One attempt on its own connection (each learner's request comes from its own LMS
    request); status 0 when there was no answer."""
    connection = Connection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": plan.idempotency_key}
    try:
        return await asyncio.wait_for(
            connection.request("/v1/submissions", headers, plan.body), REQUEST_TIMEOUT_SECONDS
        )
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        return Response(0, {}, b"")
    finally:
        await connection.close()


def backoff(response: Response, attempt: int, rng: random.Random) -> float:
    retry_after = response.headers.get("retry-after", "")
    if retry_after.isdigit():
        return min(float(retry_after), MAX_BACKOFF_SECONDS * 2)
    return min(0.1 * 2.0**attempt, MAX_BACKOFF_SECONDS) * rng.uniform(0.5, 1.5)


async def with_retries(
    plan: Plan, ports: list[int], key: str, first: int, rng: random.Random
) -> tuple[Response, list[int]]:
    """The final response and every attempt's status; each retry goes to the next process."""
    statuses: list[int] = []
    while True:
        response = await send(ports[(first + len(statuses)) % len(ports)], key, plan)
        statuses.append(response.status)
        if response.status not in RETRIED_STATUSES or len(statuses) == MAX_ATTEMPTS:
            return response, statuses
        await asyncio.sleep(backoff(response, len(statuses), rng))


async def learner(plan: Plan, ports: list[int], key: str, opens_at: float) -> Outcome:
    rng = random.Random(plan.idempotency_key)
    await asyncio.sleep(max(0.0, opens_at + plan.start_after - time.perf_counter()))
    outcome = Outcome(plan, first_attempt_at=time.perf_counter())
    response, outcome.statuses = await with_retries(plan, ports, key, plan.first_server, rng)
    outcome.status = response.status
    if not outcome.accepted:
        return outcome
    outcome.accepted_at = time.perf_counter()
    outcome.submission_id = str(json.loads(response.body)["id"])
    if plan.resend:
        # The LMS missed the answer and sends the same request again (retrying as before),
        # starting on the other process.
        again, outcome.resend_statuses = await with_retries(
            plan, ports, key, plan.first_server + 1, rng
        )
        if 200 <= again.status < 300:
            outcome.resend_same_id = json.loads(again.body)["id"] == outcome.submission_id
    return outcome


def count_stored(database_url: str, run: int) -> tuple[int, int]:
    """(rows of this run, rows beyond one per learner) in the database itself."""
    engine = create_engine(database_url)
    try:
        per_learner = (
            select(Submission.learner_id, func.count().label("n"))
            .where(Submission.learner_id.like(f"burst-{run}-%"))
            .group_by(Submission.learner_id)
            .subquery()
        )
        with engine.connect() as connection:
            stored = connection.scalar(select(func.coalesce(func.sum(per_learner.c.n), 0)))
            extra = connection.scalar(select(func.coalesce(func.sum(per_learner.c.n - 1), 0)))
    finally:
        engine.dispose()
    return int(stored or 0), int(extra or 0)


def wait_for_callbacks(
    receiver: CallbackReceiver, learner_ids: set[str], timeout: float
) -> dict[str, Arrival]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        arrived = receiver.arrived(learner_ids)
        if len(arrived) == len(learner_ids):
            return arrived
        time.sleep(0.05)
    return receiver.arrived(learner_ids)


def one_run(
    run: int,
    args: argparse.Namespace,
    *,
    ports: list[int],
    key: str,
    receiver: CallbackReceiver,
    pool: list[tuple[str, str]],
) -> RunResult:
    schedule = plans(args, run, pool)
    bad_before = receiver.bad_signatures

    async def burst() -> tuple[float, list[Outcome]]:
        opens_at = time.perf_counter() + 0.2  # every task scheduled before the window opens
        outcomes = await asyncio.gather(*(learner(p, ports, key, opens_at) for p in schedule))
        return opens_at, list(outcomes)

    opens_at, outcomes = asyncio.run(burst())
    accepted = [o for o in outcomes if o.accepted]
    stored, duplicates = count_stored(args.database_url, run)
    arrivals = wait_for_callbacks(
        receiver, {o.plan.learner_id for o in accepted}, args.callback_timeout
    )
    to_callback = [
        arrivals[o.plan.learner_id].at - o.accepted_at
        for o in accepted
        if o.plan.learner_id in arrivals and o.accepted_at is not None
    ]
    resent = [o for o in accepted if o.resend_statuses]
    return RunResult(
        learners=len(outcomes),
        accepted=len(accepted),
        rejected=dict(Counter(o.status for o in outcomes if not o.accepted)),
        retries=sum(len(o.statuses) - 1 + len(o.resend_statuses[1:]) for o in outcomes),
        retried_on=dict(
            Counter(s for o in outcomes for s in [*o.statuses[:-1], *o.resend_statuses[:-1]])
        ),
        resends=len(resent),
        resends_same_id=sum(1 for o in resent if o.resend_same_id is True),
        resends_other_id=sum(1 for o in resent if o.resend_same_id is False),
        stored=stored,
        duplicates=duplicates,
        p50_ms=percentile([o.latency_ms for o in accepted], 0.5),
        p99_ms=percentile([o.latency_ms for o in accepted], 0.99),
        callbacks=len(arrivals),
        callback_id_mismatches=sum(
            1
            for o in accepted
            if o.plan.learner_id in arrivals
            and arrivals[o.plan.learner_id].submission_id != o.submission_id
        ),
        last_callback_s=max((a.at for a in arrivals.values()), default=float("nan")) - opens_at,
        p50_to_callback_s=statistics.median(to_callback) if to_callback else float("nan"),
        bad_signatures=receiver.bad_signatures - bad_before,
    )


def set_callback(base_url: str, key: str, url: str) -> str:
    """Point the key's callbacks at ``url``; the signing secret the service generated."""
    response = httpx.put(
        f"{base_url}/v1/callback",
        json={"url": url},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    response.raise_for_status()
    secret: str = response.json()["secret"]
    return secret


@contextlib.contextmanager
def processes(args: argparse.Namespace, workdir: Path) -> Iterator[list[ServerProcess]]:
    """Two API processes without background work, and one worker, on the same database."""
    settings = {
        "GRADER_CALLBACK_ALLOW_HTTP": "true",
        "GRADER_CALLBACK_ALLOWED_HOSTS": "127.0.0.1/32",
        **dict(item.split("=", 1) for item in args.env),
    }
    env = migrated_env(args.database_url, settings)
    api_env = {**env, "GRADER_WORKER_ENABLED": "false"}
    servers = [ServerProcess(api_env, workdir / f"api-{n}.log") for n in range(2)]
    worker = ServiceProcess(["worker"], env, workdir / "worker.log")
    started: list[ServiceProcess] = []
    try:
        for process in [*servers, worker]:
            process.start()
            started.append(process)
        yield servers
    except Exception:
        for process in started:
            progress(f"--- {process.log_path.name}:\n{process.log_tail(2000)}")
        raise
    finally:
        for process in started:
            process.stop()


def describe(number: int, result: RunResult) -> str:
    rejected = ", ".join(f"{s}: {n}" for s, n in sorted(result.rejected.items())) or "none"
    retried = ", ".join(f"{s}: {n}" for s, n in sorted(result.retried_on.items()))
    return (
        f"  run {number}: accepted {result.accepted}/{result.learners} (rejected: {rejected}), "
        f"retries {result.retries}{f' ({retried})' if retried else ''}, "
        f"resends {result.resends_same_id}/{result.resends} same id, "
        f"stored {result.stored}, duplicates {result.duplicates}, "
        f"p50 {result.p50_ms:.0f} ms, p99 {result.p99_ms:.0f} ms, "
        f"callbacks {result.callbacks} (last at {result.last_callback_s:.1f} s, "
        f"p50 {result.p50_to_callback_s:.2f} s after acceptance), "
        f"bad signatures {result.bad_signatures}"
    )


def report(results: list[RunResult], args: argparse.Namespace, database: str) -> str:
    def median(name: str) -> float:
        return statistics.median(float(getattr(r, name)) for r in results)

    rows = [
        ("accepted (2xx)", "accepted", "{:.0f}"),
        ("stored (rows)", "stored", "{:.0f}"),
        ("duplicates", "duplicates", "{:.0f}"),
        ("retries", "retries", "{:.0f}"),
        ("resends (same key, after a 2xx)", "resends", "{:.0f}"),
        ("resends replaying the same id", "resends_same_id", "{:.0f}"),
        ("p50 latency, ms", "p50_ms", "{:.0f}"),
        ("p99 latency, ms", "p99_ms", "{:.0f}"),
        ("callbacks received (distinct)", "callbacks", "{:.0f}"),
        ("window start -> last callback, s", "last_callback_s", "{:.1f}"),
        ("acceptance -> callback p50, s", "p50_to_callback_s", "{:.2f}"),
    ]
    rejected, retried_on = Counter[int](), Counter[int]()
    for result in results:
        rejected.update(result.rejected)
        retried_on.update(result.retried_on)
    lines = [
        f"Deadline burst on {database}: {args.learners} learners within {args.window:g} s, "
        f"2 API processes + 1 worker, {args.resend:.0%} resend after success; "
        f"medians over {len(results)} runs" + (f"; {' '.join(args.env)}" if args.env else ""),
        "",
        f"| {'':<34} | {'median':>8} | per run |",
        f"|{'-' * 36}|{'-' * 10}|---------|",
    ]
    for label, name, fmt in rows:
        per_run = ", ".join(fmt.format(getattr(r, name)) for r in results)
        lines.append(f"| {label:<34} | {fmt.format(median(name)):>8} | {per_run} |")
    lines.append(
        f"| {'rejected (final status: count)':<34} | {sum(rejected.values()):>8} | "
        + (", ".join(f"{s}: {n}" for s, n in sorted(rejected.items())) or "none")
        + " |"
    )
    lines.append(
        f"| {'retried on (status: attempts)':<34} | {sum(retried_on.values()):>8} | "
        + (", ".join(f"{s}: {n}" for s, n in sorted(retried_on.items())) or "none")
        + " |"
    )
    problems = [f"run {n + 1}: {p}" for n, r in enumerate(results) for p in r.failures]
    lines.append("")
    lines.append(
        "FAILED: " + "; ".join(problems)
        if problems
        else "OK: stored = accepted, "
        "no duplicates, every resend replayed, every callback arrived signed"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.burst", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--postgres-url", help="throwaway PostgreSQL database (schema reset)")
    parser.add_argument("--learners", type=int, default=300)
    parser.add_argument("--window", type=float, default=3.0, help="seconds the starts spread over")
    parser.add_argument("--repeat", type=int, default=3, help="runs (medians are reported)")
    parser.add_argument("--resend", type=float, default=0.1, help="share resending once")
    parser.add_argument("--callback-timeout", type=float, default=120.0)
    parser.add_argument(
        "--env", action="append", default=[], help="extra setting, e.g. GRADER_DB_POOL_SIZE=20"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.learners <= 2000 or not 0 <= args.window <= 60 or not 1 <= args.repeat <= 20:
        parser.error("--learners 1..2000, --window 0..60 s, --repeat 1..20")
    with tempfile.TemporaryDirectory(prefix="grader-burst-") as tmp:
        workdir = Path(tmp)
        if args.postgres_url:
            if not is_loopback_url(args.postgres_url):
                parser.error("the benchmark only runs against a loopback database")
            reset_postgres(args.postgres_url)
            args.database_url, database = args.postgres_url, "postgresql"
        else:
            args.database_url, database = f"sqlite:///{workdir / 'burst.db'}", "sqlite"
        pool = answer_pool()
        results = []
        with processes(args, workdir) as servers, CallbackReceiver() as receiver:
            key = create_integration_key(servers[0].base_url, admin_key=ADMIN_KEY, name="burst")
            receiver.secret = set_callback(servers[1].base_url, key, receiver.url)
            ports = [server.port for server in servers]
            for run in range(args.repeat):
                result = one_run(run, args, ports=ports, key=key, receiver=receiver, pool=pool)
                progress(describe(run + 1, result))
                results.append(result)
    sys.stdout.write(report(results, args, database) + "\n")
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
