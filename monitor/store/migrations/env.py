"""Alembic environment. `monitor.store.migrate` passes an open connection in
`config.attributes["connection"]`; the `alembic` command line passes `-x url=...` instead
(or MONITOR_STATE)."""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from monitor.store.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("MONITOR_STATE")
    if not url:
        raise SystemExit("give the database: alembic -x url=postgresql+psycopg://... or MONITOR_STATE=...")
    return url


def _run(connection: Connection) -> None:
    # batch mode: SQLite can only ALTER by copying the table
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if config.config_file_name:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    if context.is_offline_mode():
        context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    from monitor.store import make_engine

    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


main()
