"""``grader backup`` while the server runs, ``grader restore`` into a new database, and the
restored database served with the same data (SQLite; PostgreSQL when pg_dump exists)."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.cli.conftest import grader, postgres_url
from tests.conftest import ADMIN_KEY, auth
from tests.support.server import ServerProcess, create_integration_key, service_env


def key_names(base_url: str) -> list[str]:
    response = httpx.get(f"{base_url}/v1/keys", headers=auth(ADMIN_KEY), timeout=30)
    response.raise_for_status()
    return sorted(item["name"] for item in response.json()["items"])


def serving(env: dict[str, str], log: Path) -> ServerProcess:
    process = ServerProcess(env, log)
    process.start()
    return process


def test_sqlite_backup_while_serving_then_restore_into_a_new_file(tmp_path: Path) -> None:
    env = service_env(
        f"sqlite:///{tmp_path / 'live.db'}",
        {"GRADER_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY, "GRADER_WORKER_ENABLED": "false"},
    )
    assert grader("migrate", env=env).code == 0
    server = serving(env, tmp_path / "live.log")
    try:
        create_integration_key(server.base_url, admin_key=ADMIN_KEY, name="Moodle backup")
        before = key_names(server.base_url)
        done = grader("backup", str(tmp_path / "grader.backup"), env=env)
        assert done.code == 0, done.err
        assert "SQLite backup API" in done.out
        refused = grader("backup", str(tmp_path / "grader.backup"), env=env)
        assert refused.code == 2  # never overwrites a backup
    finally:
        server.stop()
    # Restoring over a database that holds data needs --force.
    over = grader("restore", str(tmp_path / "grader.backup"), env=env)
    assert over.code == 2
    assert "already holds data" in over.err
    restored_env = {**env, "GRADER_DATABASE_URL": f"sqlite:///{tmp_path / 'restored.db'}"}
    done = grader("restore", str(tmp_path / "grader.backup"), env=restored_env)
    assert done.code == 0, done.err
    server = serving(restored_env, tmp_path / "restored.log")
    try:
        assert key_names(server.base_url) == before
        assert "Moodle backup" in before
    finally:
        server.stop()


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a database")
    env = service_env(f"sqlite:///{tmp_path / 'new.db'}")
    done = grader("restore", str(tmp_path / "notes.txt"), env=env)
    assert done.code != 0
    assert "not a backup" in done.err
    assert "Traceback" not in done.err


def test_postgres_backup_and_restore(tmp_path: Path, clean_engine: object) -> None:
    url = postgres_url()
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore are not installed")
    env = service_env(
        url, {"GRADER_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY, "GRADER_WORKER_ENABLED": "false"}
    )
    assert grader("migrate", env=env).code == 0
    server = serving(env, tmp_path / "live.log")
    try:
        create_integration_key(server.base_url, admin_key=ADMIN_KEY, name="Moodle pg backup")
        before = key_names(server.base_url)
        done = grader("backup", str(tmp_path / "grader.dump"), env=env)
        assert done.code == 0, done.err
    finally:
        server.stop()
    refused = grader("restore", str(tmp_path / "grader.dump"), env=env)
    assert refused.code == 2
    # An emptied database (the schema dropped), as a new server's would be.
    engine = create_engine(make_url(url))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    done = grader("restore", str(tmp_path / "grader.dump"), env=env)
    assert done.code == 0, done.err
    server = serving(env, tmp_path / "restored.log")
    try:
        assert key_names(server.base_url) == before
    finally:
        server.stop()
