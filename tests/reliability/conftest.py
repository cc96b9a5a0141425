"""Fixtures for the reliability tests: the real server as a subprocess on the test database.

These tests run the service the way it is deployed (``python -m service migrate`` then
``serve``) and hurt it from outside: SIGKILL, a cut database link, concurrent retries.
Everything stays on 127.0.0.1 and every loop is bounded in count and time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import ADMIN_KEY
from tests.support import server as support_server
from tests.support.server import ServerProcess, run_command, service_env


@pytest.fixture
def server_env(database_url: str, clean_engine: Engine) -> dict[str, str]:
    """Environment of a server on the (emptied) test database, migrated by the real CLI."""
    env = service_env(
        database_url,
        {
            "GRADER_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
            "GRADER_WORKER_ENABLED": "false",
            # Per-key rate limits off: these tests send one key's bursts on purpose.
            "GRADER_RATE_LIMIT": "",
            "GRADER_RATE_LIMIT_INTEGRATION": "",
        },
    )
    run_command(["migrate"], env)
    return env


@contextmanager
def running_server(env: dict[str, str], log_path: Path) -> Iterator[ServerProcess]:
    """A started server process, stopped afterwards."""
    process = ServerProcess(env, log_path)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def server(server_env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(server_env, tmp_path / "server.log") as process:
        yield process


def create_integration_key(base_url: str) -> str:
    return support_server.create_integration_key(
        base_url, admin_key=ADMIN_KEY, name="reliability LMS"
    )
