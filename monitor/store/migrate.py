"""Schema migrations with Alembic, driven from code: the store calls `upgrade_schema` when it
opens a database (zero set-up for SQLite users), `monitor db upgrade` calls it explicitly.

A database made by the first version (tables created without Alembic) is stamped with the
first revision, then upgraded. Concurrent upgrades are serialised: on PostgreSQL with a
transaction-level advisory lock (DDL is transactional there), on SQLite by re-checking after a
lost race.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

HERE = Path(__file__).resolve().parent
BASE_REVISION = "0001"  # the schema the first version created with create_all
PG_LOCK_KEY = 0x6E65_7773  # "news": one advisory lock for schema changes
_THREADS = threading.Lock()  # alembic's `context` is module-global: one migration per process


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    cfg = AlembicConfig(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection) -> str | None:
    """Upgrade on an open connection inside its transaction; returns the revision found."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
    found = current_revision(connection)
    if found == head_revision():
        return found
    cfg = alembic_config(connection)
    if found is None and inspect(connection).has_table("articles"):
        command.stamp(cfg, BASE_REVISION)  # made by create_all before migrations existed
    command.upgrade(cfg, "head")
    return found


def upgrade_schema(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (revision before, revision after).
    Cheap when already current: one query."""
    with engine.connect() as conn:
        found = current_revision(conn)
        conn.rollback()
    if found == head_revision():
        return found, found
    for attempt in range(3):
        try:
            with _THREADS, engine.begin() as conn:
                return _upgrade(conn), head_revision()
        except (OperationalError, ProgrammingError):
            # SQLite: another process created the same table first; look again
            with engine.connect() as conn:
                if current_revision(conn) == head_revision():
                    return found, head_revision()
            if attempt == 2:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")
