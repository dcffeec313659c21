"""Indexes for maintenance: articles by topic and age (pruning), runs by start time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_articles_topic_fetched_at", "articles", ["topic", "fetched_at"])
    op.create_index("ix_runs_started_at", "runs", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_started_at", table_name="runs")
    op.drop_index("ix_articles_topic_fetched_at", table_name="articles")
