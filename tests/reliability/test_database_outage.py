"""A database outage mid-load: requests fail fast with 503 + Retry-After, and the service
recovers by itself when the database is back.

The issue asks to "stop PostgreSQL mid-load". The test puts a TCP proxy (tests/support) on
127.0.0.1 between the server and PostgreSQL and cuts it instead: every open connection is
closed and new ones are refused, which is exactly what the service sees when PostgreSQL
stops (its backends exit, the port refuses). Unlike stopping the real server, it does not
disturb other databases and users of a shared PostgreSQL, and it works without rights to
control the PostgreSQL service. PostgreSQL only: SQLite is a file, it has no outage.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from tests.reliability.conftest import create_integration_key, running_server
from tests.reliability.load import (
    Load,
    check_nothing_lost,
    final_attempts,
    retry_unknown,
    summary,
)
from tests.support.proxy import TcpProxy
from tests.support.server import ServerProcess

FAIL_FAST_SECONDS = 5.0
OUTAGE_SECONDS = 3.0


@pytest.fixture
def proxy(database_url: str) -> Iterator[TcpProxy]:
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("a database outage needs a database server (PostgreSQL)")
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running


@pytest.fixture
def proxied_server(
    proxy: TcpProxy, server_env: dict[str, str], database_url: str, tmp_path: Path
) -> Iterator[ServerProcess]:
    proxied_url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    env = {
        **server_env,
        "GRADER_DATABASE_URL": proxied_url.render_as_string(hide_password=False),
    }
    with running_server(env, tmp_path / "server.log") as process:
        yield process


def test_database_outage_fails_fast_with_503_and_recovers_without_restart(
    proxied_server: ServerProcess, proxy: TcpProxy, clean_engine: Engine
) -> None:
    server = proxied_server
    key = create_integration_key(server.base_url)
    load = Load(lambda: server.base_url, key, threads=8, per_thread=2000).start()
    try:
        load.wait_for(lambda: load.acknowledged() >= 40, timeout=60)

        proxy.cut()
        cut_at = time.monotonic()
        time.sleep(OUTAGE_SECONDS / 2)
        started = time.monotonic()
        ready = httpx.get(f"{server.base_url}/readyz", timeout=30)
        readyz_seconds = time.monotonic() - started
        time.sleep(OUTAGE_SECONDS / 2)
        proxy.restore()
        restored_at = time.monotonic()

        # Recovery: new submissions succeed again, on the same server process.
        load.wait_for(
            lambda: any(a.acknowledged and a.started > restored_at for a in load.attempts),
            timeout=30,
        )
        recovered_after = time.monotonic() - restored_at
    finally:
        attempts = load.join(stop=True)

    assert server.running(), "the server must not need a restart"
    assert ready.status_code == 503, ready.text
    assert ready.json()["status"] == "not ready"
    assert ready.headers["retry-after"]
    assert readyz_seconds < FAIL_FAST_SECONDS
    assert httpx.get(f"{server.base_url}/readyz", timeout=30).status_code == 200

    during = [a for a in attempts if cut_at <= a.started < restored_at]
    failed = [a for a in attempts if not a.acknowledged]
    assert during, summary(attempts)
    assert failed, "the outage should have failed some requests"
    # Fail fast, and only ever as a problem+json 503 with Retry-After: never a 500, never
    # a hang, never a dropped connection from the service itself.
    for attempt in failed:
        assert attempt.status == 503, (attempt.status, attempt.code, summary(attempts))
        assert attempt.headers.get("retry-after"), attempt.headers
        assert attempt.content_type == "application/problem+json"
        assert attempt.code in {"database_unavailable", "commit_outcome_unknown"}
        assert attempt.elapsed < FAIL_FAST_SECONDS, attempt.elapsed
    assert max(a.elapsed for a in during) < FAIL_FAST_SECONDS

    # Nothing lost, nothing stored that was reported failed; retry the in-doubt ones.
    stored = check_nothing_lost(clean_engine, attempts)
    retried = retry_unknown(server.base_url, key, attempts, stored)
    check_nothing_lost(clean_engine, final_attempts(attempts, retried))
    print(  # noqa: T201 - shown with -s: what the outage looked like
        f"outage: {summary(attempts)}; readyz {readyz_seconds:.2f}s; "
        f"recovered {recovered_after:.2f}s after restore; in doubt {len(retried)}"
    )
