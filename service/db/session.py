"""Engine and session construction, and the transaction shape shared by app, jobs and tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option naming how a SQLite transaction begins: IMMEDIATE (the default, for
# units of work that write) or DEFERRED (long reads such as exports, which must not hold
# the write lock). Ignored by other databases.
SQLITE_BEGIN_OPTION = "sqlite_begin"


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of a SQLite file URL, so the default ``./data/grader.db`` just works."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """An engine with the transaction behaviour the service relies on, on every backend."""
    ensure_sqlite_directory(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})
        _install_sqlite_hooks(engine)
        return engine
    return create_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def _install_sqlite_hooks(engine: Engine) -> None:
    """SQLAlchemy's documented fix for pysqlite's transaction handling, plus our pragmas.

    pysqlite begins transactions lazily and on its own terms, which breaks SAVEPOINTs and
    lets rows leak between "rolled back" units of work. We switch its handling off and
    emit BEGIN ourselves. ``BEGIN IMMEDIATE`` takes the write lock up front: a deferred
    transaction that reads and then writes can fail at once with "database is locked" when
    another writer committed in between, which is exactly what a deadline burst does.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # WAL lets readers proceed while one writer commits. synchronous stays FULL (the
        # default): a 2xx promises the answer survives a power cut, not only a crash.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


def make_sessionmaker(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """``read_only`` sessions begin DEFERRED on SQLite, so long reads never block writers."""
    if read_only:
        engine = engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
    # expire_on_commit=False: responses are built from objects after the commit.
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work for scripts and jobs: commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
