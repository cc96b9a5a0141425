"""``grader worker`` says what it does on start, and during a database outage logs one line
when the database goes and one when it is back: no traceback per attempt."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.cli.conftest import grader, postgres_url
from tests.support.proxy import TcpProxy
from tests.support.server import ServiceProcess, service_env

WAIT_SECONDS = 60.0


def wait_for(process: ServiceProcess, text: str, *, count: int = 1) -> str:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        log = process.log_tail(200_000)
        if log.count(text) >= count:
            return log
        assert process.running(), log
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not logged in {WAIT_SECONDS:.0f}s:\n{process.log_tail()}")


def test_worker_start_lines_name_database_queues_and_concurrency(
    sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    worker = ServiceProcess(["worker"], sqlite_env, tmp_path / "worker.log")
    worker.start()
    try:
        log = wait_for(worker, "concurrency:")
    finally:
        worker.stop()
    assert "grader worker: database sqlite:///" in log
    assert "queues: rescoring jobs, outbox (webhooks, LTI scores), scoring retries" in log


def test_worker_outage_logs_one_line_each_way(tmp_path: Path, clean_engine: object) -> None:
    url = make_url(postgres_url())
    assert grader("migrate", env=service_env(url.render_as_string(hide_password=False))).code == 0
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port)
        shown_password = "pw-not-shown" if url.password else None
        env = service_env(proxied.render_as_string(hide_password=False))
        worker = ServiceProcess(["worker"], env, tmp_path / "worker.log")
        worker.start()
        try:
            wait_for(worker, "concurrency:")
            time.sleep(1.5)  # a few rounds on a healthy database
            proxy.cut()
            wait_for(worker, "database unavailable")
            time.sleep(8)  # several retries (1, 2, 4 s) while it is down
            proxy.restore()
            log = wait_for(worker, "database available again")
        finally:
            worker.stop()
    assert log.count("database unavailable") == 1, log
    assert log.count("database available again") == 1, log
    assert "Traceback" not in log
    assert shown_password is None or shown_password not in log
