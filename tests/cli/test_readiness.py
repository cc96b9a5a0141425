"""/readyz fails when the SQLite file is deleted or replaced under the running server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import grader
from tests.support.server import ServerProcess, service_env


@pytest.mark.parametrize("change", ["deleted", "replaced"])
def test_readyz_fails_when_the_sqlite_file_changes(tmp_path: Path, change: str) -> None:
    path = tmp_path / "grader.db"
    env = service_env(f"sqlite:///{path}", {"GRADER_WORKER_ENABLED": "false"})
    assert grader("migrate", env=env).code == 0
    server = ServerProcess(env, tmp_path / "server.log")
    server.start()
    try:
        assert httpx.get(f"{server.base_url}/readyz", timeout=10).status_code == 200
        if change == "deleted":
            path.unlink()
        else:
            shutil.copy(path, tmp_path / "copy.db")
            os.replace(tmp_path / "copy.db", path)
        response = httpx.get(f"{server.base_url}/readyz", timeout=10)
        assert response.status_code == 503
        assert f"was {change}" in response.json()["checks"]["database"]
    finally:
        server.stop()
