"""Indexes for maintenance: articles by topic and age (pruning), runs by start time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


INDEXES = [("ix_articles_topic_fetched_at", "articles", ["topic", "fetched_at"]),
           ("ix_runs_started_at", "runs", ["started_at"])]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for name, table, columns in INDEXES:  # a database made by create_all may have them
        if name not in {i["name"] for i in inspector.get_indexes(table)}:
            op.create_index(name, table, columns)


def downgrade() -> None:
    op.drop_index("ix_runs_started_at", table_name="runs")
    op.drop_index("ix_articles_topic_fetched_at", table_name="articles")
