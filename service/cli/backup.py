"""``grader backup PATH`` and ``grader restore PATH``.

SQLite: a consistent online copy through sqlite3's backup API (``Connection.backup``), page
by page under SQLite's own locking, so it includes what is still in the WAL file and may
run while the service serves; a copy of the .db file alone can miss committed answers.
PostgreSQL: ``pg_dump --format=custom`` / ``pg_restore``, which the command runs when they
are on PATH and otherwise prints for the operator to run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import URL

from service.cli import database
from service.cli.errors import StartupError, mask_url
from service.config import get_settings

# Exit code when the command cannot do the work itself (a tool is missing, data would be
# overwritten); the printed line says what to do instead.
NOT_DONE_EXIT_CODE = 2
# Tables whose rows mean "this database holds someone's work" (a fresh migration seeds
# only the default organisation and course).
DATA_TABLES = ("api_key", "question", "submission")


@contextlib.contextmanager
def _sqlite(path: Path, *, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    uri = f"file:{path}?mode=ro" if read_only else f"file:{path}"
    connection = sqlite3.connect(uri, uri=True)
    try:
        yield connection
    finally:
        connection.close()


def _sqlite_has_data(connection: sqlite3.Connection) -> bool:
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    return any(
        connection.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone() is not None
        for table in DATA_TABLES
        if table in tables
    )


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URL without the password, and the environment that carries it
    (a password on the command line is visible to every user in ``ps``)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run_or_print(tool: str, arguments: list[str], url: URL) -> int:
    dsn, env = _libpq(url)
    argv = [tool, *arguments, f"--dbname={dsn}"]
    if shutil.which(tool) is None:
        sys.stderr.write(
            f"{tool} is not installed (not on PATH). Run this where it is "
            f"(set PGPASSWORD if the database needs one):\n    {shlex.join(argv)}\n"
        )
        return NOT_DONE_EXIT_CODE
    done = subprocess.run(argv, env=env, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise StartupError(
            f"{tool} failed (exit {done.returncode}): {done.stderr.strip()[:2000]}",
            f"Command: {shlex.join(argv)}",
            exit_code=NOT_DONE_EXIT_CODE,
        )
    return 0


def backup(args: argparse.Namespace) -> int:
    settings = get_settings()
    target = Path(args.path).resolve()
    if target.exists() and not args.force:
        raise StartupError(
            f"{target} exists; a backup never overwrites a file. Fix: choose a new name, or "
            "pass --force.",
            exit_code=NOT_DONE_EXIT_CODE,
        )
    url = database.parse_url(settings.database_url)
    source = database.sqlite_path(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if source is None or not source.exists():
            raise StartupError(
                f"there is no database file to back up "
                f"(GRADER_DATABASE_URL={mask_url(settings.database_url)!r}).",
                "Fix: set GRADER_DATABASE_URL to the service's database file.",
            )
        target.unlink(missing_ok=True)
        with _sqlite(source, read_only=True) as src, _sqlite(target) as dst:
            src.backup(dst)
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
        sys.stdout.write(f"backed up {source} to {target} ({pages} pages, SQLite backup API)\n")
        return 0
    code = _run_or_print("pg_dump", ["--format=custom", f"--file={target}"], url)
    if code == 0:
        sys.stdout.write(f"backed up {mask_url(settings.database_url)} to {target} (pg_dump)\n")
    return code


def restore(args: argparse.Namespace) -> int:
    settings = get_settings()
    source = Path(args.path).resolve()
    if not source.is_file():
        raise StartupError(
            f"no backup file at {source}.", "Fix: give the path that `grader backup` wrote."
        )
    url = database.parse_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        target = database.sqlite_path(settings.database_url)
        if target is None:
            raise StartupError("GRADER_DATABASE_URL names no SQLite file to restore into.")
        with _sqlite(source, read_only=True) as src:
            try:
                src.execute("SELECT version_num FROM alembic_version").fetchall()
            except sqlite3.DatabaseError as exc:
                raise StartupError(
                    f"{source} is not a backup of this service ({exc}).",
                    "Fix: give the path that `grader backup` wrote.",
                ) from exc
            if target.exists() and not args.force:
                with _sqlite(target, read_only=True) as existing:
                    if _sqlite_has_data(existing):
                        raise StartupError(
                            f"{target} already holds data; restore would replace it.",
                            "Fix: stop the service and pass --force, or set "
                            "GRADER_DATABASE_URL to a new file.",
                            exit_code=NOT_DONE_EXIT_CODE,
                        )
            target.parent.mkdir(parents=True, exist_ok=True)
            with _sqlite(target) as dst:
                src.backup(dst)
        sys.stdout.write(f"restored {source} into {target}\n")
        return 0
    engine = database.connect(settings)
    try:
        with engine.connect() as connection:
            from sqlalchemy import inspect, text

            tables = set(inspect(connection).get_table_names())
            has_data = any(
                connection.execute(text(f'SELECT 1 FROM "{table}" LIMIT 1')).first() is not None
                for table in DATA_TABLES
                if table in tables
            )
    finally:
        engine.dispose()
    if has_data and not args.force:
        raise StartupError(
            f"{mask_url(settings.database_url)} already holds data; restore would replace it.",
            "Fix: stop the service and pass --force, or point GRADER_DATABASE_URL to an empty "
            "database.",
            exit_code=NOT_DONE_EXIT_CODE,
        )
    arguments = ["--no-owner", "--single-transaction"]
    if tables:
        arguments += ["--clean", "--if-exists"]  # replace the migrated (empty) schema
    code = _run_or_print("pg_restore", [*arguments, str(source)], url)
    if code == 0:
        sys.stdout.write(f"restored {source} into {mask_url(settings.database_url)}\n")
    return code


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "backup",
        help="write a consistent copy of the database to PATH (safe while serving)",
        description="SQLite: an online copy with SQLite's backup API (includes the WAL). "
        "PostgreSQL: runs pg_dump --format=custom, or prints the command when pg_dump is "
        "not installed (exit 2).",
    )
    parser.add_argument("path", metavar="PATH", help="the backup file to write")
    parser.add_argument(
        "--force", action="store_true", help="overwrite PATH if it exists (default: refuse)"
    )
    parser.set_defaults(handler=backup)
    parser = sub.add_parser(
        "restore",
        help="replace the configured database with the backup at PATH",
        description="SQLite: copies the backup into the GRADER_DATABASE_URL file with the "
        "backup API. PostgreSQL: runs pg_restore. Refuses a database that holds data "
        "unless --force; stop the service first.",
    )
    parser.add_argument("path", metavar="PATH", help="a file written by grader backup")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace a database that already holds data (default: refuse)",
    )
    parser.set_defaults(handler=restore)
