"""Initial schema: what the first version created with `create_all`.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)  # models.UTCDateTime stores through this type


def upgrade() -> None:
    op.create_table(
        "developments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("topic", sa.String(80), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("new_value", sa.Text(), nullable=False),
        sa.Column("known_before", sa.Text(), nullable=False),
        sa.Column("known_source", sa.Text(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("first_seen", TZ, nullable=False),
        sa.Column("published", TZ, nullable=True),
        sa.Column("dismissed", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("topic", sa.String(80), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("last_status", sa.String(20), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_success_at", TZ, nullable=True),
        sa.Column("last_attempt_at", TZ, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_try_at", TZ, nullable=True),
        sa.UniqueConstraint("topic", "url"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
    )
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("topic", sa.String(80), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("fetched_url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False, index=True),
        sa.Column("published", TZ, nullable=True),
        sa.Column("fetched_at", TZ, nullable=False),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("relevance", sa.Float(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("development_id", sa.String(32), sa.ForeignKey("developments.id"), nullable=True),
        sa.UniqueConstraint("topic", "url"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("development_id", sa.String(32), sa.ForeignKey("developments.id"), nullable=False),
        sa.Column("route_key", sa.String(64), nullable=False),
        sa.Column("route", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, index=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("sent_at", TZ, nullable=True),
        sa.UniqueConstraint("development_id", "route_key"),
    )
    op.create_table(
        "links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("topic", sa.String(80), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("article_id", sa.Integer(), sa.ForeignKey("articles.id"), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("seen_at", TZ, nullable=False),
        sa.UniqueConstraint("topic", "url"),
    )


def downgrade() -> None:
    for table in ("links", "deliveries", "articles", "runs", "feeds", "developments"):
        op.drop_table(table)
