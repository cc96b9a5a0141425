"""The Alembic history is the schema: it must match the models and be reversible."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from service.__main__ import alembic_config
from service.db.base import Base
from tests.conftest import migrate


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_migrations_downgrade_to_base_and_upgrade_again(engine: Engine, database_url: str) -> None:
    config = alembic_config(database_url)
    config.attributes["configure_logger"] = False
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(database_url)
    assert {t.name for t in Base.metadata.sorted_tables} <= set(inspect(engine).get_table_names())
