"""Memory benchmark: the resident size of an API process after 10,000 submissions, against
its size after start-up and after a warm-up (target: growth within 10%).

    .venv/bin/python -m bench.memory                     # SQLite
    .venv/bin/python -m bench.memory \\
        --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_burst   # + PostgreSQL

For each database it migrates a fresh one (a temporary SQLite file; the PostgreSQL
database's ``public`` schema is DROPPED and rebuilt, so give it a throwaway one) and starts
one ``python -m service serve`` process (one uvicorn worker, in the same process, with its
background thread on, as by default) with ``GRADER_GRADER_CACHE_SIZE=--cache-size``.
Per-key rate limits are off: 10,000 submissions from one key in a few minutes exceed them.

It creates ``--questions`` questions through the API, copies of the seed rubrics under new
ids, so that with more questions than cache entries the grader cache keeps evicting and
refitting (the bound is part of what is measured). Then ``--warmup`` submissions, then
``--submissions`` more, each to a question drawn at random (``random.Random(SEED)``), with a
distinct answer (a corpus answer of ``bench.scoring`` plus words sampled from its rubric),
a new learner id and a new Idempotency-Key, from ``--concurrency`` keep-alive clients.

Resident size is ``VmRSS`` of ``/proc/<pid>/status`` (``VmHWM``: the peak), read after
start-up, after the questions exist, after the warm-up and after every 1,000 submissions.
Growth is reported relative to after start-up and to after the warm-up. Exits 1 when a
request fails (anything but 201).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from bench._server import (
    ADMIN_KEY,
    Connection,
    add_database_options,
    databases,
    migrated_env,
    progress,
)
from bench.scoring import RUBRICS, SEED, corpus
from service.domain.rubrics.service import build_grader, load_rubric_file
from tests.support.server import ServerProcess, create_integration_key

REQUEST_TIMEOUT_SECONDS = 30.0
CHECKPOINT_EVERY = 1000


@dataclass(frozen=True)
class Memory:
    label: str
    submissions: int
    rss_kib: int
    hwm_kib: int


def memory_of(pid: int, label: str, submissions: int) -> Memory:
    """VmRSS and VmHWM of ``pid`` (the server runs its one uvicorn worker in-process)."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return Memory(label, submissions, fields["VmRSS"], fields["VmHWM"])


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


@dataclass(frozen=True)
class Question:
    question_id: str
    answers: list[str]
    words: list[str]


def create_questions(base_url: str, count: int) -> list[Question]:
    """``count`` questions, copies of the seed rubrics in turn under new ids (by the admin)."""
    rng = random.Random(SEED)
    seeds = sorted(RUBRICS.glob("*.yaml"))
    questions = []
    for number in range(count):
        path = seeds[number % len(seeds)]
        document = yaml.safe_load(path.read_text())
        document["id"] = f"mem-{number:03d}-{path.stem}"
        response = httpx.post(
            f"{base_url}/v1/questions",
            json=document,
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=60,
        )
        response.raise_for_status()
        rubric = load_rubric_file(path)
        answers = [a for a in corpus(build_grader(rubric), rng) if a.strip()]
        words = " ".join([rubric.prompt, *rubric.reference_answers]).split()
        questions.append(Question(document["id"], answers, words))
    return questions


def bodies(questions: list[Question], count: int, rng: random.Random) -> list[bytes]:
    """Distinct answers: a corpus answer and 3-12 words sampled from the rubric."""
    result = []
    for _ in range(count):
        question = rng.choice(questions)
        extra = " ".join(rng.sample(question.words, rng.randint(3, 12)))
        body = {
            "question_id": question.question_id,
            "learner_id": f"mem-{uuid.uuid4().hex[:16]}",
            "answer": f"{rng.choice(question.answers)} {extra}",
        }
        result.append(json.dumps(body).encode())
    return result


async def submit(port: int, key: str, payloads: list[bytes], concurrency: int) -> Counter[int]:
    """Every payload once, ``concurrency`` keep-alive clients taking the next one in turn."""
    statuses: Counter[int] = Counter()
    queue = iter(payloads)

    async def client() -> None:
        connection = Connection("127.0.0.1", port)
        try:
            for body in queue:
                headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex}
                try:
                    status = await asyncio.wait_for(
                        connection.post("/v1/submissions", headers, body),
                        REQUEST_TIMEOUT_SECONDS,
                    )
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                    status = 0
                    await connection.close()
                statuses[status] += 1
        finally:
            await connection.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return statuses


def bench_database(
    name: str, database_url: str, args: argparse.Namespace, workdir: Path
) -> tuple[list[Memory], Counter[int]]:
    env = migrated_env(
        database_url,
        {
            "GRADER_RATE_LIMIT": "",
            "GRADER_RATE_LIMIT_INTEGRATION": "",
            "GRADER_GRADER_CACHE_SIZE": str(args.cache_size),
        },
    )
    server = ServerProcess(env, workdir / f"server-{name}.log")
    server.start()
    rng = random.Random(SEED)
    statuses: Counter[int] = Counter()
    try:
        assert not children_of(server.pid), "expected one process (uvicorn in-process)"
        points = [memory_of(server.pid, "after start-up", 0)]
        key = create_integration_key(server.base_url, admin_key=ADMIN_KEY, name="memory")
        questions = create_questions(server.base_url, args.questions)
        points.append(memory_of(server.pid, f"{len(questions)} questions created", 0))
        statuses += asyncio.run(
            submit(server.port, key, bodies(questions, args.warmup, rng), args.concurrency)
        )
        points.append(memory_of(server.pid, f"after {args.warmup} warm-up", 0))
        done = 0
        while done < args.submissions:
            batch = min(CHECKPOINT_EVERY, args.submissions - done)
            payloads = bodies(questions, batch, rng)
            statuses += asyncio.run(submit(server.port, key, payloads, args.concurrency))
            done += batch
            points.append(memory_of(server.pid, "then", done))
            progress(f"  {name}: {done} submitted, RSS {points[-1].rss_kib / 1024:.1f} MiB")
    except Exception:
        progress(server.log_tail())
        raise
    finally:
        server.stop()
    return points, statuses


def report(name: str, points: list[Memory], statuses: Counter[int]) -> str:
    start, warm, last = points[0], points[2], points[-1]
    lines = [
        f"{name}: resident size of the API process (VmRSS; VmHWM = peak so far)",
        "",
        f"| {'point':<26} | {'+ submitted':>11} | {'RSS MiB':>8} | {'vs start-up':>11} "
        f"| {'vs warm-up':>10} | {'peak MiB':>8} |",
        f"|{'-' * 28}|{'-' * 13}|{'-' * 10}|{'-' * 13}|{'-' * 12}|{'-' * 10}|",
    ]
    for point in points:
        label = point.label + (f" {point.submissions:,} more" if point.submissions else "")
        lines.append(
            f"| {label:<26} | {point.submissions:>11,} | {point.rss_kib / 1024:8.1f} "
            f"| {point.rss_kib / start.rss_kib - 1:+11.1%} "
            f"| {point.rss_kib / warm.rss_kib - 1:+10.1%} | {point.hwm_kib / 1024:8.1f} |"
        )
    growth_start = last.rss_kib / start.rss_kib - 1
    growth_warm = last.rss_kib / warm.rss_kib - 1
    lines.append(
        f"  {name}: after {last.submissions:,} submissions {growth_start:+.1%} vs start-up, "
        f"{growth_warm:+.1%} vs warm-up (target <= 10%: "
        f"{'met' if growth_start <= 0.10 else 'NOT met'} vs start-up, "
        f"{'met' if growth_warm <= 0.10 else 'NOT met'} vs warm-up); responses "
        + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory", description=__doc__.split("\n\n")[0]
    )
    add_database_options(parser)
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--cache-size", type=int, default=4, help="GRADER_GRADER_CACHE_SIZE")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    if not 1 <= args.submissions <= 100_000 or not 1 <= args.questions <= 200:
        parser.error("--submissions 1..100000, --questions 1..200")
    reports, failed = [], False
    with tempfile.TemporaryDirectory(prefix="grader-memory-") as tmp:
        workdir = Path(tmp)
        for name, url in databases(parser, args, workdir).items():
            progress(f"{name}: {url}")
            points, statuses = bench_database(name, url, args, workdir)
            reports.append(report(name, points, statuses))
            failed = failed or set(statuses) != {201}
    sys.stdout.write(
        f"Memory: {args.submissions:,} submissions after a {args.warmup}-submission warm-up, "
        f"{args.questions} questions, grader cache {args.cache_size} entries, "
        f"{args.concurrency} clients\n\n" + "\n\n".join(reports) + "\n"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
