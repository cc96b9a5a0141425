"""The restore procedure of docs/operations.md, run for real: back up a database that holds
a graded submission, restore it into a new database, and the app started on the copy
serves the same submission with the same key.

PostgreSQL (with ``GRADER_TEST_DATABASE_URL``): `pg_dump --format=custom` and
`pg_restore --no-owner` into databases of their own, dropped afterwards. SQLite: the
`grader backup` / `grader restore` commands.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import make_url, text

from service.config import Settings
from service.db.session import make_engine
from service.main import create_app
from tests.conftest import ADMIN_KEY, RUBRICS_DIR, auth, migrate
from tests.factories import reference_answer

ROOT = Path(__file__).resolve().parents[2]


def settings_for(url: str) -> Settings:
    return Settings(
        database_url=url,
        rubrics_dir=RUBRICS_DIR,
        bootstrap_admin_key=SecretStr(ADMIN_KEY),
        worker_enabled=False,
        trusted_hosts="127.0.0.1,localhost,testserver",
    )


def store_graded_submission(url: str) -> tuple[str, dict[str, Any]]:
    """Through the API: an integration key and one scored answer; returns both."""
    with TestClient(create_app(settings_for(url)), headers=auth(ADMIN_KEY)) as client:
        created = client.post("/v1/keys", json={"name": "lms", "role": "integration"})
        assert created.status_code == 201, created.text
        key: str = created.json()["key"]
        answer = {
            "question_id": "backchannel-q1",
            "learner_id": "learner-1",
            "answer": reference_answer("backchannel-q1"),
        }
        response = client.post("/v1/submissions", json=answer, headers=auth(key))
        assert response.status_code == 201, response.text
        submission_id = response.json()["id"]
        stored = client.get(f"/v1/submissions/{submission_id}", headers=auth(key))
        assert stored.status_code == 200, stored.text
        body: dict[str, Any] = stored.json()
    return key, body


def served_submission(url: str, key: str, submission_id: str) -> dict[str, Any]:
    with TestClient(create_app(settings_for(url))) as client:
        response = client.get(f"/v1/submissions/{submission_id}", headers=auth(key))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def postgres_databases() -> Iterator[tuple[str, str]]:
    """Two empty databases on the test server (source, restore target), dropped after."""
    base = os.environ.get("GRADER_TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("PostgreSQL backup and restore need GRADER_TEST_DATABASE_URL")
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump / pg_restore not installed")
    suffix = uuid.uuid4().hex[:8]
    names = (f"ops_backup_source_{suffix}", f"ops_backup_restored_{suffix}")
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(base)
        yield (
            url.set(database=names[0]).render_as_string(hide_password=False),
            url.set(database=names[1]).render_as_string(hide_password=False),
        )
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def libpq_url(url: str) -> str:
    """pg_dump wants a libpq URL: no SQLAlchemy driver suffix."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_postgresql_dump_restores_into_a_new_database_that_serves_the_same_data(
    postgres_databases: tuple[str, str], tmp_path: Path
) -> None:
    source, restored = postgres_databases
    migrate(source)
    key, before = store_graded_submission(source)
    dump = tmp_path / "grader.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={dump}", libpq_url(source)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["pg_restore", "--no-owner", f"--dbname={libpq_url(restored)}", str(dump)],
        check=True,
        capture_output=True,
    )
    # `grader migrate` after a restore, as the guide says: nothing to apply here.
    migrate(restored)
    after = served_submission(restored, key, before["id"])
    assert after == before
    assert after["status"] == "scored"


def test_sqlite_backup_restores_into_a_new_database_that_serves_the_same_data(
    tmp_path: Path,
) -> None:
    source = f"sqlite:///{tmp_path / 'grader.db'}"
    restored = f"sqlite:///{tmp_path / 'restored.db'}"
    migrate(source)
    key, before = store_graded_submission(source)
    copy = tmp_path / "backup.db"

    def grader(database_url: str, *args: str) -> None:
        environment = {**os.environ, "GRADER_DATABASE_URL": database_url}
        environment.pop("GRADER_TEST_DATABASE_URL", None)
        subprocess.run(
            [sys.executable, "-m", "service", *args],
            check=True,
            capture_output=True,
            env=environment,
            cwd=ROOT,
        )

    grader(source, "backup", str(copy))
    grader(restored, "restore", str(copy))
    grader(restored, "migrate")
    assert served_submission(restored, key, before["id"]) == before
