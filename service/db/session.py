"""Engine and session construction, and the transaction shape shared by app, jobs and tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option naming how a SQLite transaction begins: IMMEDIATE (the default, for
# units of work that write) or DEFERRED (long reads such as exports, which must not hold
# the write lock). Ignored by other databases.
SQLITE_BEGIN_OPTION = "sqlite_begin"
# Fail fast when the database is down: a request waits at most this long to open a new
# connection (PostgreSQL ``connect_timeout``) or to get one from a full pool, and is then
# answered 503 + Retry-After instead of hanging.
DEFAULT_CONNECT_TIMEOUT_SECONDS = 3.0
DEFAULT_POOL_TIMEOUT_SECONDS = 5.0
# SQLite has one writer at a time. With more connections than that, the extra writers wait
# in SQLite's busy handler, which sleeps and polls, unfairly: under 32 concurrent clients
# p99 was 10-17x p50 (bench/http_load.py). A small pool without overflow makes them queue
# in the pool instead, first come first served: p99/p50 fell to 3-4 at equal throughput.
SQLITE_POOL_SIZE = 4


class CommitOutcomeUnknown(OperationalError):
    """The connection broke while COMMIT was in flight: the transaction may or may not have
    been committed, and no client can know which.

    Distinguished from other database errors (after which nothing was stored) so that the
    API does not tell a client "nothing was stored" when it may have been; a retry with
    the same Idempotency-Key resolves it either way.
    """


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of a SQLite file URL, so the default ``./data/grader.db`` just works."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    echo: bool = False,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT_SECONDS,
) -> Engine:
    """An engine with the transaction behaviour the service relies on, on every backend.

    On PostgreSQL, ``pool_pre_ping`` replaces connections that died while idle in the pool
    (a database restart), so the service recovers by itself once the database is back.
    """
    ensure_sqlite_directory(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False},
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=0,
            pool_timeout=pool_timeout,
        )
        _install_sqlite_hooks(engine)
        return engine
    return create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=pool_timeout,
        # libpq takes whole seconds; below 2 it uses 2.
        connect_args={"connect_timeout": max(2, round(connect_timeout))},
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


class GraderSession(Session):
    """A Session whose ``commit`` says when its outcome is unknown (see CommitOutcomeUnknown)."""

    def commit(self) -> None:
        # Pending changes are written first: a failure there is a plain error, after which
        # the transaction is rolled back and nothing was stored.
        self.flush()
        try:
            super().commit()
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            raise CommitOutcomeUnknown(
                exc.statement,
                exc.params,
                exc.orig if exc.orig is not None else exc,
                hide_parameters=True,
                connection_invalidated=True,
            ) from exc


# Set in ``Session.info`` once a transaction has written (a flush, or an ORM DML statement),
# until it ends: such a transaction holds the write lock, and only its commit may end it.
_WROTE = "grader.transaction_wrote"
# Set while the transaction is one begun by ``begin_read_phase``.
_READING = "grader.read_phase"


@event.listens_for(GraderSession, "after_flush")
def _mark_written(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(GraderSession, "do_orm_execute")
def _mark_dml(state: Any) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


@event.listens_for(GraderSession, "after_transaction_end")
def _forget_written(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_WROTE, None)
        session.info.pop(_READING, None)


def end_read_phase(session: Session) -> bool:
    """End ``session``'s transaction if it has only read, so that the CPU work that follows
    (scoring an answer, compiling a rubric) holds no lock and no pooled connection.

    On SQLite every unit of work begins IMMEDIATE (see ``_install_sqlite_hooks``), so the
    first read of a request already holds the database's one write lock; ending a
    transaction that wrote nothing gives it back, and the next statement begins a new
    transaction. Objects stay loaded (``expire_on_commit=False``). The caller must treat
    what it read as possibly stale in the next transaction, as if the request had arrived a
    moment earlier. Returns False, changing nothing, if the transaction has written, has
    unflushed changes or is inside a savepoint: those belong to the caller's unit of work.
    """
    if not session.in_transaction():
        return True
    if session.info.get(_WROTE) or session.new or session.dirty or session.deleted:
        return False
    if session.in_nested_transaction():  # a caller's savepoint: only it may end its work
        return False
    session.commit()
    return True


def begin_read_phase(session: Session) -> None:
    """Begin the reads that come before a request's CPU work in a transaction that takes no
    lock: DEFERRED on SQLite, where a unit of work otherwise begins IMMEDIATE and so holds
    the one write lock from its first read, serialising even the reads of concurrent
    requests. The caller must end it with ``end_read_phase`` before writing (a DEFERRED
    transaction that reads and then writes can fail at once under concurrent writers).

    A transaction that has written, or a caller's savepoint, is left as it is.
    """
    if session.in_transaction():
        if session.info.get(_READING):  # already in one: go on reading in it
            return
        if not end_read_phase(session):
            return
    session.connection(execution_options={SQLITE_BEGIN_OPTION: "DEFERRED"})
    session.info[_READING] = True


def make_sessionmaker(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """``read_only`` sessions begin DEFERRED on SQLite, so long reads never block writers."""
    if read_only:
        engine = engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
    # expire_on_commit=False: responses are built from objects after the commit.
    factory = sessionmaker(bind=engine, class_=GraderSession, expire_on_commit=False)
    return cast("sessionmaker[Session]", factory)


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
