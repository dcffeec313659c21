"""Alembic migrations of the state database (run by `Store` on first use and `monitor db upgrade`)."""
