"""Commands the CLI hands to the running server (deleting a person or a project, a backup),
which the server carries out and answers in the same row."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("project_id", sa.Integer, nullable=True),
        sa.Column("distinct_id", sa.String(400), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True, index=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.String(2000), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("admin_requests")
