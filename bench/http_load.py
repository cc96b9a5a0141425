"""HTTP benchmark: POST /v1/submissions (auth + idempotency + scoring + storage) against a
bare endpoint of the same app that only stores the answer, under 32 concurrent clients.

    .venv/bin/python -m bench.http_load                          # SQLite only
    .venv/bin/python -m bench.http_load \\
        --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/bench   # + PostgreSQL

For each database it migrates a fresh database (a temporary SQLite file; the PostgreSQL
database's ``public`` schema is DROPPED and rebuilt, so give it a throwaway one), starts
``python -m service serve`` on a free 127.0.0.1 port with ``GRADER_BENCH_ENDPOINTS=true``,
then runs each endpoint ``--runs`` times for ``--seconds``, alternating which goes first,
and prints requests/s and p50/p99 latency (medians over the runs) and the full/bare
throughput ratio measured side by side in each run. Every request is bounded (timeout) and
every run is bounded (duration); only loopback is used.

The load generator is a minimal keep-alive HTTP/1.1 client on asyncio streams rather than
httpx (``bench._server.Connection``): it shares the machine with the server, and the less
CPU it takes, the more the figures describe the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import profiling
from bench._server import (
    ADMIN_KEY,
    Connection,
    add_database_options,
    databases,
    migrated_env,
    progress,
)
from tests.support.server import ServerProcess, create_integration_key

QUESTION_ID = "backchannel-q1"
# Realistic answers of different lengths (the scoring cost grows with the answer).
ANSWERS = [
    "Kennedy and Khrushchev sent secret messages to each other, which helped them avoid war.",
    "Through backchannels such as Robert Kennedy's private meetings with Ambassador Dobrynin, "
    "both leaders could discreetly gauge each other's intentions, propose compromises like "
    "removing the missiles in Turkey without public humiliation, and de-escalate the crisis.",
    "They negotiated privately.",
    "The backchannel let the two sides talk without the pressure of public statements. "
    "Messages passed through journalists and diplomats made it possible to test offers, "
    "understand whether the other side was bluffing, and agree a face-saving deal.",
]
REQUEST_TIMEOUT_SECONDS = 30.0
ENDPOINTS = {"full": "/v1/submissions", "bare": "/v1/_bench/submissions"}


@dataclass
class RunResult:
    endpoint: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run_endpoint(
    port: int, endpoint: str, key: str, *, concurrency: int, seconds: float, warmup: float
) -> RunResult:
    """``concurrency`` clients, each posting back to back for warmup + seconds."""
    path = ENDPOINTS[endpoint]
    latencies: list[float] = []
    counts = {"requests": 0, "errors": 0}
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds

    async def client(number: int) -> None:
        connection = Connection("127.0.0.1", port)
        sent = 0
        try:
            while (now := time.perf_counter()) < stop_at:
                learner = f"bench-{number}-{uuid.uuid4().hex[:12]}"
                body = json.dumps(
                    {
                        "question_id": QUESTION_ID,
                        "learner_id": learner,
                        "answer": ANSWERS[sent % len(ANSWERS)],
                    }
                ).encode()
                headers = {"Authorization": f"Bearer {key}"}
                if endpoint == "full":
                    headers["Idempotency-Key"] = f"bench-{learner}"
                sent += 1
                try:
                    status = await asyncio.wait_for(
                        connection.post(path, headers, body), REQUEST_TIMEOUT_SECONDS
                    )
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                    status = 0
                    await connection.close()
                done = time.perf_counter()
                if now >= measure_from and done <= stop_at:
                    counts["requests"] += 1
                    latencies.append((done - now) * 1000)
                    if status != 201:
                        counts["errors"] += 1
        finally:
            await connection.close()

    await asyncio.gather(*(client(n) for n in range(concurrency)))
    return RunResult(endpoint, counts["requests"], counts["errors"], seconds, latencies)


@contextlib.contextmanager
def bench_server(
    database_url: str, log_path: Path, *, workers: int, extra_env: dict[str, str]
) -> Iterator[ServerProcess]:
    env = migrated_env(
        database_url,
        {
            "GRADER_BENCH_ENDPOINTS": "true",
            # Per-key rate limits off: they would cap the very throughput being measured.
            "GRADER_RATE_LIMIT": "",
            "GRADER_RATE_LIMIT_INTEGRATION": "",
            **extra_env,
        },
    )
    server = ServerProcess(env, log_path, workers=workers)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def bench_database(
    name: str, database_url: str, args: argparse.Namespace, workdir: Path
) -> dict[str, list[RunResult]]:
    extra_env = dict(item.split("=", 1) for item in args.env)
    results: dict[str, list[RunResult]] = {"full": [], "bare": []}
    with bench_server(
        database_url, workdir / f"server-{name}.log", workers=args.workers, extra_env=extra_env
    ) as server:
        key = create_integration_key(server.base_url, admin_key=ADMIN_KEY, name="bench LMS")
        for run in range(args.runs):
            order = ["full", "bare"] if run % 2 == 0 else ["bare", "full"]
            for endpoint in order:
                # The last run of each endpoint is sampled (py-spy, from outside the server).
                profiled = args.profile is not None and run == args.runs - 1
                sampler = (
                    profiling.sampling(
                        server.pid,
                        args.warmup + args.seconds,
                        args.profile / f"{name}-{endpoint}.txt",
                    )
                    if profiled
                    else contextlib.nullcontext()
                )
                with sampler:
                    result = asyncio.run(
                        run_endpoint(
                            server.port,
                            endpoint,
                            key,
                            concurrency=args.concurrency,
                            seconds=args.seconds,
                            warmup=args.warmup,
                        )
                    )
                results[endpoint].append(result)
                progress(
                    f"  {name} run {run + 1}/{args.runs} {endpoint:<4} "
                    f"{result.rps:8.1f} req/s  p50 {result.percentile(0.5):7.1f} ms  "
                    f"p99 {result.percentile(0.99):7.1f} ms  errors {result.errors}"
                )
    return results


def report(all_results: dict[str, dict[str, list[RunResult]]], args: argparse.Namespace) -> str:
    lines = [
        f"HTTP benchmark: {args.concurrency} concurrent clients, {args.runs} runs x "
        f"{args.seconds:g}s per endpoint (after {args.warmup:g}s warm-up), "
        f"uvicorn workers={args.workers}" + (f", {' '.join(args.env)}" if args.env else ""),
        "Medians over runs; ratio = full/bare throughput within the same run.",
        "",
        f"| {'database':<10} | {'endpoint':<8} | {'req/s':>8} | {'p50 ms':>8} | {'p99 ms':>8} "
        f"| {'p99/p50':>7} | {'errors':>6} |",
        f"|{'-' * 12}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 9}|{'-' * 8}|",
    ]
    verdicts = []
    for database, results in all_results.items():
        for endpoint in ("full", "bare"):
            runs = results[endpoint]
            rps = statistics.median(r.rps for r in runs)
            p50 = statistics.median(r.percentile(0.5) for r in runs)
            p99 = statistics.median(r.percentile(0.99) for r in runs)
            errors = sum(r.errors for r in runs)
            lines.append(
                f"| {database:<10} | {endpoint:<8} | {rps:8.1f} | {p50:8.1f} | {p99:8.1f} "
                f"| {p99 / p50:7.2f} | {errors:6d} |"
            )
            if endpoint == "full":
                verdicts.append((database, p99 / p50, errors))
        ratios = [f.rps / b.rps for f, b in zip(results["full"], results["bare"], strict=True)]
        all_errors = sum(r.errors for r in results["full"] + results["bare"])
        ratio = statistics.median(ratios)
        lines.append(
            f"| {database:<10} | {'ratio':<8} | {ratio:8.2f} | per run: "
            + ", ".join(f"{r:.2f}" for r in ratios)
            + " |"
        )
        tail = verdicts[-1][1]
        lines.append(
            f"  {database}: full/bare {ratio:.0%} (target >= 60%: "
            f"{'met' if ratio >= 0.60 else 'NOT met'}), full p99/p50 {tail:.2f} "
            f"(target < 4: {'met' if tail < 4 else 'NOT met'}), errors {all_errors} "
            f"(target 0: {'met' if all_errors == 0 else 'NOT met'})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.http_load", description=__doc__.split("\n\n")[0]
    )
    add_database_options(parser)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured, per endpoint run")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        help="extra server setting, e.g. GRADER_DB_POOL_SIZE=20",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample the server with py-spy during each endpoint's last run; raw stacks "
        "go to DIR and a summary is printed after the table",
    )
    args = parser.parse_args(argv)
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    if not 1 <= args.runs <= 20 or not 0 < args.seconds <= 120 or not 1 <= args.concurrency <= 256:
        parser.error("--runs 1..20, --seconds up to 120, --concurrency 1..256")

    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        workdir = Path(tmp)
        all_results = {}
        for name, url in databases(parser, args, workdir).items():
            progress(f"{name}: {url}")
            try:
                all_results[name] = bench_database(name, url, args, workdir)
            except Exception:
                log_file = workdir / f"server-{name}.log"
                if log_file.exists():
                    progress(log_file.read_text(errors="replace")[-3000:])
                raise
    sys.stdout.write(report(all_results, args) + "\n")
    if args.profile is not None:
        for name in all_results:
            for endpoint in ("full", "bare"):
                raw = args.profile / f"{name}-{endpoint}.txt"
                if raw.exists():
                    sys.stdout.write("\n" + profiling.summarise(raw) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
