"""Cohorts, saved insights and dashboards never hand out a deleted row's id again: saved specs
name cohorts by id and dashboards list insights by id, so a new row taking an old id would
slip into them. On SQLite this needs AUTOINCREMENT, so the three tables are rebuilt with it
(nothing references them by foreign key); PostgreSQL's sequences never reuse ids."""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("cohorts", "insights", "dashboards")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
