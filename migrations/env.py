"""Alembic environment: the URL comes from the caller or from Settings, never from the ini."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from service.config import get_settings
from service.db import models  # noqa: F401  (registers every table on Base.metadata)
from service.db.base import Base
from service.db.session import make_engine

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url")
    return str(url) if url else get_settings().database_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=True,
    )


def _sqlite_foreign_keys(connection: Connection, *, enabled: bool) -> None:
    """Batch mode rebuilds a SQLite table by copying it and dropping the original; with
    foreign keys enforced, dropping a referenced table would cascade-delete (or refuse
    because of) the rows that refer to it. SQLite's documented procedure for such changes
    turns enforcement off outside the transaction and checks the keys before committing;
    the PRAGMA is a no-op inside a transaction, so it goes to the driver connection, which
    is in autocommit mode (see ``service.db.session``)."""
    dbapi = connection.connection.driver_connection
    assert dbapi is not None
    if enabled:
        problems = dbapi.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"foreign key violations after migrating: {problems[:5]}")
    dbapi.execute(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                _sqlite_foreign_keys(connection, enabled=False)
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                _sqlite_foreign_keys(connection, enabled=True)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
