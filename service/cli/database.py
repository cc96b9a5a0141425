"""The database as the command line sees it at start: which one (printed, password masked),
whether it can be reached, and whether its schema matches the code."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service.cli.errors import DATABASE_URL_EXAMPLES, StartupError, mask_url
from service.config import Settings
from service.db.session import make_engine

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SETTING = "GRADER_DATABASE_URL"


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
        parsed.get_dialect()  # an unknown dialect or driver fails here, not at connect
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise StartupError(
            f"{SETTING}={mask_url(url)!r} is not a database URL this service can use ({exc}).",
            f"Fix: set {SETTING} to a URL such as {DATABASE_URL_EXAMPLES}.",
        ) from exc
    return parsed


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database or "")


@dataclass(frozen=True)
class Announced:
    url: str
    new_file: Path | None  # a SQLite file that does not exist yet


def announce(settings: Settings, *, creates: bool) -> Announced:
    """Print which database this command uses; say so when it is about to create a new
    SQLite file (``creates``), or refuse to run on a file that does not exist."""
    url = settings.database_url
    path = sqlite_path(url)
    sys.stdout.write(f"database: {mask_url(url)}\n")
    if path is not None and not path.exists():
        if not creates:
            raise StartupError(
                f"database file {path} does not exist ({SETTING}={mask_url(url)!r}).",
                "Fix: run the command from the folder that holds data/grader.db, set "
                f"{SETTING} to the existing file, or create it with `grader migrate`.",
            )
        sys.stdout.write(f"creating a NEW, empty SQLite database file: {path}\n")
        sys.stdout.flush()
        return Announced(url, path)
    sys.stdout.flush()
    return Announced(url, None)


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else exc.__class__.__name__


def explain_connection_error(url: str, exc: BaseException) -> StartupError:
    """The one useful line of a failed first connection, with the fix."""
    parsed = make_url(url)
    shown = mask_url(url)
    reason = _first_line(exc)
    lower = str(getattr(exc, "orig", None) or exc).lower()
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    if parsed.get_backend_name() == "sqlite":
        return StartupError(
            f"cannot open the SQLite database {parsed.database} ({SETTING}={shown!r}): {reason}.",
            "Fix: check that the folder exists and this user may write to it, or point "
            f"{SETTING} to another file.",
        )
    if "does not exist" in lower and "database" in lower:
        return StartupError(
            f"database {parsed.database!r} does not exist on {where} ({SETTING}={shown!r}).",
            f"Fix: create it (createdb -h {parsed.host} -p {parsed.port or 5432} "
            f"-U {parsed.username} {parsed.database}), then run `grader migrate`.",
        )
    if "authentication failed" in lower or "role" in lower or "no password" in lower:
        return StartupError(
            f"PostgreSQL on {where} refused user {parsed.username!r}: {reason} "
            f"({SETTING}={shown!r}).",
            f"Fix: correct the user name and password in {SETTING}.",
        )
    if (
        isinstance(exc, PoolTimeout)
        or "connection refused" in lower
        or "timeout" in lower
        or "could not connect" in lower
        or "name or service not known" in lower
        or "could not translate host" in lower
    ):
        return StartupError(
            f"cannot reach the database server {where}: {reason} ({SETTING}={shown!r}).",
            f"Fix: start PostgreSQL, or correct the host and port in {SETTING}.",
        )
    return StartupError(
        f"cannot connect to the database ({SETTING}={shown!r}): {reason}.",
        f"Fix: check {SETTING} and that the database server is running.",
    )


def connect(settings: Settings) -> Engine:
    """An engine on the configured database whose first connection has worked."""
    url = settings.database_url
    parse_url(url)
    engine = make_engine(
        url,
        pool_size=settings.db_pool_size,
        connect_timeout=settings.db_connect_timeout_seconds,
        pool_timeout=settings.db_pool_timeout_seconds,
    )
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (DBAPIError, PoolTimeout) as exc:
        engine.dispose()
        raise explain_connection_error(url, exc) from exc
    return engine


@dataclass(frozen=True)
class Revisions:
    current: tuple[str, ...]
    heads: tuple[str, ...]
    known: frozenset[str]

    @property
    def unknown(self) -> tuple[str, ...]:
        """Revisions stored in the database that this code does not know: a newer release
        migrated it."""
        return tuple(revision for revision in self.current if revision not in self.known)


def revisions(engine: Engine, url: str) -> Revisions:
    script = ScriptDirectory.from_config(alembic_config(url))
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return Revisions(
        current=tuple(current),
        heads=tuple(script.get_heads()),
        known=frozenset(revision.revision for revision in script.walk_revisions()),
    )


def check_not_newer(state: Revisions) -> None:
    if state.unknown:
        raise StartupError(
            f"the database is at migration {', '.join(state.unknown)}, which this version of "
            f"the service does not know (its newest is {', '.join(state.heads)}).",
            "Fix: run the newer release that migrated it, or restore a backup taken before "
            "the upgrade (see docs/operations.md, upgrades and rollback).",
        )


def check_schema(engine: Engine, url: str) -> None:
    """Refuse to serve a database whose migrations are missing, behind or ahead of the code."""
    state = revisions(engine, url)
    check_not_newer(state)
    if not state.current:
        raise StartupError(
            f"the database {mask_url(url)} has no schema (migrations not applied).",
            "Fix: run `grader migrate` (with the same GRADER_DATABASE_URL), then start again.",
        )
    if set(state.current) != set(state.heads):
        raise StartupError(
            f"the database is at migration {', '.join(state.current)}, the code needs "
            f"{', '.join(state.heads)} (migrations not applied).",
            "Fix: run `grader migrate` (with the same GRADER_DATABASE_URL), then start again.",
        )


def open_database(settings: Settings, *, announce_it: bool = True) -> Engine:
    """The checks every command that uses the database makes first."""
    if announce_it:
        announce(settings, creates=False)
    else:
        path = sqlite_path(settings.database_url)
        if path is not None and not path.exists():
            raise StartupError(
                f"database file {path} does not exist "
                f"({SETTING}={mask_url(settings.database_url)!r}).",
                "Fix: run the command from the folder that holds data/grader.db, or set "
                f"{SETTING} to the existing file.",
            )
    engine = connect(settings)
    try:
        check_schema(engine, settings.database_url)
    except BaseException:
        engine.dispose()
        raise
    return engine
