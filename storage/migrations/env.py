"""Alembic environment: runs against the engine handed over in config.attributes."""

from alembic import context
from sqlmodel import SQLModel

import storage.models  # noqa: F401 - registers the tables

config = context.config
target_metadata = SQLModel.metadata


def run() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from core.settings import get_settings
        from storage.db import make_engine

        engine = make_engine(get_settings().database_url)
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


run()
