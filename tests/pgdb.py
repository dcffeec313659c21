"""A throw-away PostgreSQL database per test module on the local server (127.0.0.1:5432,
trust auth). Tests that use it skip, with the reason, only when PostgreSQL is unreachable."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import psycopg

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"


@lru_cache(maxsize=1)
def unreachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        with psycopg.connect(ADMIN_DSN) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL on 127.0.0.1:5432 is unreachable: {str(exc).strip()[:200]}"
    return None


@contextmanager
def temp_database(prefix: str = "monitor_test") -> Iterator[str]:
    """CREATE DATABASE <prefix>_<random>, yield its SQLAlchemy URL, DROP it afterwards."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reset_schema(url: str) -> None:
    """An empty public schema (a fresh state for the next test)."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
