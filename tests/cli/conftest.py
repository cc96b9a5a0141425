"""Helpers for the command-line tests: the REAL command (``python -m service`` or the
installed ``.venv/bin/grader`` script) in a subprocess, with bounded waits."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support.server import PROJECT_ROOT, service_env

GRADER_SCRIPT = Path(sys.executable).parent / "grader"


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str


def grader(
    *args: str,
    env: Mapping[str, str],
    cwd: Path = PROJECT_ROOT,
    script: bool = False,
    timeout: float = 120.0,
) -> Done:
    """Run ``python -m service ARGS`` (or the ``grader`` script) to completion."""
    command = [str(GRADER_SCRIPT)] if script else [sys.executable, "-m", "service"]
    done = subprocess.run(
        [*command, *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Done(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    """A scratch, migrated SQLite database (not the shared test database)."""
    env = service_env(f"sqlite:///{tmp_path / 'grader.db'}")
    done = grader("migrate", env=env)
    assert done.code == 0, done.err
    return env


def postgres_url() -> str:
    """The PostgreSQL server of the test run, or a skip when the run is on SQLite."""
    url = os.environ.get("GRADER_TEST_DATABASE_URL", "")
    if not url or make_url(url).get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL (GRADER_TEST_DATABASE_URL=postgresql+psycopg://...)")
    return url
