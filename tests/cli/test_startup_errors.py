"""Every start-up error prints one or two lines naming the setting, its value (secrets
masked) and the fix, and exits non-zero without a traceback; --debug shows the traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from service.config import Settings
from tests.cli.conftest import grader, postgres_url
from tests.support.server import service_env

STARTUP_EXIT = 3


def assert_readable(err: str, *needles: str) -> None:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    # The message (one or two lines) and the hint about --debug.
    assert 1 <= len(lines) <= 3, err
    assert "Fix:" in err or "Fix" in err, err
    for needle in needles:
        assert needle in err, err


def test_wrong_database_url(tmp_path: Path) -> None:
    env = service_env("mysqlx://user:hunter2@db/grader")
    done = grader("serve", env=env)
    assert done.code == STARTUP_EXIT
    assert_readable(done.err, "GRADER_DATABASE_URL", "not a database URL")
    assert "hunter2" not in done.err


def test_port_that_is_not_a_number(sqlite_env: dict[str, str]) -> None:
    done = grader("serve", env={**sqlite_env, "GRADER_PORT": "eighty"})
    assert done.code == STARTUP_EXIT
    assert_readable(done.err, "GRADER_PORT='eighty'", "valid integer")


def test_bootstrap_key_too_short_is_masked(sqlite_env: dict[str, str]) -> None:
    done = grader("serve", env={**sqlite_env, "GRADER_BOOTSTRAP_ADMIN_KEY": "grk_tooshort"})
    assert done.code == STARTUP_EXIT
    assert_readable(done.err, "GRADER_BOOTSTRAP_ADMIN_KEY=****", "at least 32 characters")
    assert "grk_tooshort" not in done.err


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_unreadable_rubric_folder(sqlite_env: dict[str, str], tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "rubrics"
    if kind == "a file":
        folder.write_text("not a folder")
    done = grader("serve", env={**sqlite_env, "GRADER_RUBRICS_DIR": str(folder)})
    assert done.code == STARTUP_EXIT
    assert_readable(done.err, "GRADER_RUBRICS_DIR", str(folder))


def test_invalid_rubric_names_the_file(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("id: [unclosed\n")
    done = grader("check-rubrics", env={**sqlite_env, "GRADER_RUBRICS_DIR": str(tmp_path)})
    assert done.code == STARTUP_EXIT
    assert_readable(done.err, "invalid rubric", "broken.yaml")


def test_migrations_not_applied(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()  # the file exists, with no schema
    done = grader("serve", env=service_env(f"sqlite:///{path}"))
    assert done.code == STARTUP_EXIT
    assert_readable(done.err, "migrations not applied", "grader migrate")


def test_migrations_behind_the_code(sqlite_env: dict[str, str]) -> None:
    path = Path(make_url(sqlite_env["GRADER_DATABASE_URL"]).database or "")
    with sqlite3.connect(path) as connection:
        # An older revision of this code (the one before LTI), as after a code upgrade.
        connection.execute("UPDATE alembic_version SET version_num = 'd4e5f6a7b8c9'")
    done = grader("serve", env=sqlite_env)
    assert done.code == STARTUP_EXIT
    assert_readable(done.err, "d4e5f6a7b8c9", "migrations not applied", "grader migrate")


def test_migrations_newer_than_the_code(sqlite_env: dict[str, str]) -> None:
    path = Path(make_url(sqlite_env["GRADER_DATABASE_URL"]).database or "")
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    for command in ("serve", "worker", "migrate"):
        done = grader(command, env=sqlite_env)
        assert done.code == STARTUP_EXIT, (command, done.err)
        assert_readable(done.err, "ffffffffffff", "does not know")


def test_debug_shows_the_traceback(sqlite_env: dict[str, str]) -> None:
    done = grader("--debug", "serve", env={**sqlite_env, "GRADER_PORT": "eighty"})
    assert done.code == STARTUP_EXIT
    assert "Traceback" in done.err
    assert "GRADER_PORT='eighty'" in done.err
    done = grader("serve", env={**sqlite_env, "GRADER_PORT": "eighty", "GRADER_DEBUG": "true"})
    assert "Traceback" in done.err


def test_sqlite_file_missing_names_it(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "grader.db"
    done = grader("worker", env=service_env(f"sqlite:///{path}"))
    assert done.code == STARTUP_EXIT
    assert_readable(done.err, str(path), "does not exist")
    assert not path.exists()


# -- PostgreSQL: a database that does not exist, a refused user, a server that is down -----


def test_postgres_database_missing() -> None:
    url = make_url(postgres_url()).set(database="grader_no_such_database")
    done = grader("serve", env=service_env(url.render_as_string(hide_password=False)))
    assert done.code == STARTUP_EXIT
    assert_readable(done.err, "'grader_no_such_database' does not exist", "createdb")


def test_postgres_authentication_failed() -> None:
    url = make_url(postgres_url()).set(username="nobody", password="s3cret-pw")
    done = grader("worker", env=service_env(url.render_as_string(hide_password=False)))
    assert done.code == STARTUP_EXIT
    assert_readable(done.err, "refused user 'nobody'", "user name and password")
    assert "s3cret-pw" not in done.err


def test_postgres_server_down() -> None:
    url = make_url(postgres_url()).set(host="127.0.0.1", port=9)
    done = grader("migrate", env=service_env(url.render_as_string(hide_password=False)))
    assert done.code == STARTUP_EXIT
    assert_readable(done.err, "cannot reach the database server 127.0.0.1:9", "start PostgreSQL")


# -- postgres:// and postgresql:// ----------------------------------------------------------


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_postgres_urls_are_normalised(scheme: str) -> None:
    settings = Settings(database_url=f"{scheme}://u:p@db.example:5432/grader")
    assert settings.database_url == "postgresql+psycopg://u:p@db.example:5432/grader"


def test_postgres_scheme_works_with_the_real_command() -> None:
    url = make_url(postgres_url())
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    heroku = "postgres://" + plain.removeprefix("postgresql://")
    done = grader("migrate", env=service_env(heroku))
    assert done.code == 0, done.err
    assert "database: postgresql+psycopg://" in done.out
