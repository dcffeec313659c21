"""Outbox claims: who is sending a delivery, since when, and what the route answered.

Databases made by `create_all` between the outbox release and the migrations may already
have these columns (they are stamped 0001 and upgraded): only missing columns are added.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = [
    sa.Column("claim_token", sa.String(120), nullable=True),  # host/pid/nonce of the sender
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("response", sa.Text(), nullable=True),  # what the route answered (redacted)
]


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("deliveries")}
    for column in COLUMNS:
        if column.name not in have:
            op.add_column("deliveries", column)


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column.name)
