"""Saved insights, and dashboards holding an ordered list of them."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table, columns in (
        (
            "insights",
            [
                sa.Column("description", sa.String(2000), nullable=False, server_default=""),
                sa.Column("spec", sa.JSON, nullable=False),
            ],
        ),
        ("dashboards", [sa.Column("tiles", sa.JSON, nullable=False, server_default="[]")]),
    ):
        op.create_table(
            table,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column(
                "project_id",
                sa.Integer,
                sa.ForeignKey("projects.id", ondelete="CASCADE"),
                nullable=False,
                index=True,
            ),
            sa.Column("name", sa.String(200), nullable=False),
            *columns,
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        )


def downgrade() -> None:
    op.drop_table("dashboards")
    op.drop_table("insights")
