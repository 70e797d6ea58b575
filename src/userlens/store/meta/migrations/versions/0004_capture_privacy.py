"""Recording privacy and scope (input masking, URL allow/deny lists) and Do-Not-Track."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(
            sa.Column("recording_mask_inputs", sa.Boolean, nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("recording_url_allow", sa.JSON, nullable=False, server_default="[]")
        )
        batch.add_column(
            sa.Column("recording_url_deny", sa.JSON, nullable=False, server_default="[]")
        )
        batch.add_column(
            sa.Column("respect_dnt", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        for column in (
            "respect_dnt",
            "recording_url_deny",
            "recording_url_allow",
            "recording_mask_inputs",
        ):
            batch.drop_column(column)
