"""Alembic environment: runs on the connection handed over by ``spinemets.storage.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from spinemets.storage._models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # ``alembic`` command line with sqlalchemy.url set
    url = config.get_main_option("sqlalchemy.url") or "sqlite:///spinemets.sqlite3"
    with create_engine(url).begin() as conn:
        _run(conn)
