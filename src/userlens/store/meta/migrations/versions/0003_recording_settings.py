"""Per-project recording settings and retention."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(
            sa.Column("recording_enabled", sa.Boolean, nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("recording_sample_rate", sa.Float, nullable=False, server_default="1.0")
        )
        batch.add_column(
            sa.Column("recording_min_duration_ms", sa.Integer, nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("recording_retention_days", sa.Integer, nullable=False, server_default="30")
        )


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        for column in (
            "recording_retention_days",
            "recording_min_duration_ms",
            "recording_sample_rate",
            "recording_enabled",
        ):
            batch.drop_column(column)
