"""Schema migrations with Alembic, driven from code: the store calls `upgrade_schema` when it
opens a database (zero set-up for SQLite users), `monitor db upgrade` calls it explicitly.

A database made by the first version (tables created without Alembic) is stamped with the
first revision, then upgraded. Concurrent upgrades are serialised: on PostgreSQL with a
transaction-level advisory lock (DDL is transactional there), on SQLite by re-checking after a
lost race.

Opening a current database costs one query and no Alembic import (about 0.3 s of start-up):
the head revision is a constant here, checked against the migration scripts by the tests.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

HERE = Path(__file__).resolve().parent
BASE_REVISION = "0001"  # the schema the first version created with create_all
HEAD_REVISION = "0003"  # the newest script in migrations/versions (tests/test_store.py checks)
PG_LOCK_KEY = 0x6E65_7773  # "news": one advisory lock for schema changes
_THREADS = threading.Lock()  # alembic's `context` is module-global: one migration per process


class MigrationError(Exception):
    """Alembic could not bring the schema to the head revision."""


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    return HEAD_REVISION


def script_head() -> str | None:
    """The head revision as Alembic reads it from the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The database's revision (None: no schema yet), read without importing Alembic."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _upgrade(connection: Connection) -> str | None:
    """Upgrade on an open connection inside its transaction; returns the revision found."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
    found = current_revision(connection)
    if found == head_revision():
        return found
    from alembic import command
    from alembic.util import CommandError

    cfg = alembic_config(connection)
    try:
        if found is None and inspect(connection).has_table("articles"):
            command.stamp(cfg, BASE_REVISION)  # made by create_all before migrations existed
        command.upgrade(cfg, "head")
    except CommandError as exc:  # e.g. a database newer than this code
        raise MigrationError(str(exc)) from None
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
