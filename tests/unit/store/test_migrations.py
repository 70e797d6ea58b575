"""A fresh data directory and one made by an older version both start and keep their data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tests.conftest import ServerProcess, free_port
from userlens.model.filters import PropertyFilter
from userlens.model.saved import DashboardFilters, DashboardPatch
from userlens.store.backup import list_backups
from userlens.store.duckdb.schema import LATEST, current_version
from userlens.store.duckdb.schema import migrate as migrate_events
from userlens.store.meta.store import MetaStore, alembic_config, make_engine
from userlens.store.meta.store import migrate as migrate_meta
from userlens.store.meta.tables import Base


def _old_data_dir(data: Path) -> None:
    """A data directory as the first release left it: metadata at revision 0001, one project."""
    data.mkdir()
    engine = make_engine(f"sqlite:///{data / 'metadata.sqlite3'}")
    migrate_meta(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO projects (name, api_token, timezone, created_at) "
                "VALUES ('Old', 'ulc_old_token_0123456789', 'UTC', :t)"
            ),
            {"t": datetime(2026, 1, 1, tzinfo=UTC)},
        )
    engine.dispose()


def _old_event_store(data: Path, *distinct_ids: str) -> None:
    """A data directory whose event store a release before the last migration left, with one
    event of project 1 for each distinct id."""
    data.mkdir()
    con = duckdb.connect(str(data / "events.duckdb"))
    migrate_events(con, target=2)
    for distinct_id in distinct_ids:
        con.execute(
            "INSERT INTO events (project_id, uuid, event, distinct_id, person_id, timestamp, "
            "received_at, properties) VALUES (1, gen_random_uuid(), 'old', ?, gen_random_uuid(), "
            "now(), now(), '{}')",
            [distinct_id],
        )
    con.close()


def test_upgraded_data_dir_starts_and_keeps_projects(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _old_data_dir(data)
    srv = ServerProcess(data_dir=data, port=free_port())
    srv.start()
    try:
        resp = httpx.post(
            srv.url + "/e/",
            json={
                "api_key": "ulc_old_token_0123456789",
                "event": "after_upgrade",
                "distinct_id": "d",
            },
        )
        assert resp.status_code == 200, resp.text
        assert "Old" in srv.cli("project", "list")
    finally:
        srv.stop()
    engine = make_engine(f"sqlite:///{data / 'metadata.sqlite3'}")
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    assert {"memberships", "api_tokens"} <= tables
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    # Before migrating, the server backed the directory up as the old version left it.
    [before] = list_backups(data / "backups")
    assert before.name.endswith("-before-upgrade") and before.metadata
    engine = make_engine(f"sqlite:///{data / 'backups' / before.name / 'metadata.sqlite3'}")
    with engine.connect() as conn:
        old = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        names = conn.execute(sa.text("SELECT name FROM projects")).scalars().all()
    engine.dispose()
    assert (old, names) == ("0001", ["Old"])


def test_fresh_data_dir_starts(server: ServerProcess) -> None:
    assert httpx.get(server.url + "/_health").json()["status"] == "ok"
    assert (server.data_dir / "events.duckdb").is_file()
    assert (server.data_dir / "metadata.sqlite3").is_file()


def test_the_migrations_build_the_tables_the_code_declares(tmp_path: Path) -> None:
    """A migration that leaves out a table, a column or an index the models have (or adds one
    they lack) shows here, not on a user's upgrade."""
    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    migrate_meta(engine)
    with engine.connect() as con:
        assert compare_metadata(MigrationContext.configure(con), Base.metadata) == []
    engine.dispose()


def test_event_schema_migrations_are_idempotent(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "e.duckdb"))
    assert current_version(con) == 0
    assert migrate_events(con) == LATEST
    assert migrate_events(con) == LATEST
    con.close()


def test_person_id_becomes_required_and_rows_are_kept(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "e.duckdb"))
    assert migrate_events(con, target=2) == 2
    insert = (
        "INSERT INTO events (project_id, uuid, event, distinct_id, person_id, timestamp, "
        "received_at, properties) VALUES (1, gen_random_uuid(), 'a', 'd', ?, "
        "TIMESTAMP '2026-01-01', TIMESTAMP '2026-01-01', '{}')"
    )
    con.execute(insert, ["0b6a4bd2-6bd5-4a11-9d47-4c0d6c2b3c1e"])
    assert migrate_events(con) == LATEST
    assert con.execute("SELECT count(*) FROM events").fetchone() == (1,)
    with pytest.raises(duckdb.ConstraintException, match="person_id"):
        con.execute(insert, [None])
    con.close()


def test_ids_of_deleted_cohorts_insights_and_dashboards_are_not_reused(tmp_path: Path) -> None:
    """A saved spec names a cohort by id and a dashboard lists insights by id: a new row must
    not take the id of a deleted one, in an upgraded data directory too."""
    data = tmp_path / "data"
    _old_data_dir(data)
    engine = make_engine(f"sqlite:///{data / 'metadata.sqlite3'}")
    migrate_meta(engine, "0007")
    now = datetime(2026, 1, 2, tzinfo=UTC)
    rows = {
        "cohorts": "(project_id, name, description, definition, created_at, updated_at) "
        "VALUES (1, 'c', '', '{}', :t, :t)",
        "insights": "(project_id, name, description, spec, created_at, updated_at) "
        "VALUES (1, 'i', '', '{}', :t, :t)",
        "dashboards": "(project_id, name, tiles, created_at, updated_at) "
        "VALUES (1, 'd', '[]', :t, :t)",
    }

    def add(conn: sa.Connection, table: str) -> int:
        conn.execute(sa.text(f"INSERT INTO {table} {rows[table]}"), {"t": now})
        found = conn.execute(sa.text(f"SELECT max(id) FROM {table}")).scalar()
        assert isinstance(found, int)
        return found

    with engine.begin() as conn:
        before = {table: [add(conn, table), add(conn, table)] for table in rows}
    migrate_meta(engine)
    with engine.begin() as conn:
        for table, (first, last) in before.items():
            kept = conn.execute(sa.text(f"SELECT id FROM {table} ORDER BY id")).scalars()
            assert list(kept) == [first, last]  # the rebuild keeps rows and their ids
            conn.execute(sa.text(f"DELETE FROM {table} WHERE id = :id"), {"id": last})
            assert add(conn, table) > last
    engine.dispose()

    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    migrate_meta(fresh)
    with fresh.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO projects (name, api_token, timezone, created_at) "
                "VALUES ('New', 'ulc_new_token_0123456789', 'UTC', :t)"
            ),
            {"t": now},
        )
        for table in rows:
            last = add(conn, table)
            conn.execute(sa.text(f"DELETE FROM {table} WHERE id = :id"), {"id": last})
            assert add(conn, table) > last
    fresh.dispose()


def test_an_upgraded_dashboard_applies_no_filters_until_given_some(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _old_data_dir(data)
    engine = make_engine(f"sqlite:///{data / 'metadata.sqlite3'}")
    migrate_meta(engine, "0009")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO dashboards (project_id, name, tiles, created_at, updated_at) "
                "VALUES (1, 'Before', '[]', :t, :t)"
            ),
            {"t": datetime(2026, 1, 2, tzinfo=UTC)},
        )
    engine.dispose()
    meta = MetaStore(f"sqlite:///{data / 'metadata.sqlite3'}")
    try:
        (board,) = meta.dashboards(1)
        assert board.filters == DashboardFilters()
        wanted = DashboardFilters(
            date_from="-7d", filters=[PropertyFilter(key="$browser", value="Firefox")]
        )
        meta.update_dashboard(1, board.id, DashboardPatch(filters=wanted))
        assert meta.dashboards(1)[0].filters == wanted
    finally:
        meta.close()


def test_an_event_store_to_migrate_is_backed_up_first_and_a_current_one_is_not(
    tmp_path: Path,
) -> None:
    from tests.conftest import make_settings
    from userlens.web.services import open_services

    data = tmp_path / "data"
    _old_event_store(data, "d")
    settings = make_settings(data)
    services = open_services(settings)
    try:
        assert services.events.count_events(1) == 1
    finally:
        services.close()
    [before] = list_backups(settings.backups_dir)
    assert before.name.endswith("-before-upgrade") and before.events == 1
    copy = duckdb.connect(str(settings.backups_dir / before.name / "events.duckdb"), read_only=True)
    assert copy.execute("SELECT max(version) FROM schema_migrations").fetchall() == [(2,)]
    copy.close()
    # Started again, now current: no second backup.
    open_services(settings).close()
    assert len(list_backups(settings.backups_dir)) == 1


def test_only_a_metadata_schema_this_version_would_migrate_counts_as_behind(
    tmp_path: Path,
) -> None:
    from userlens.store.meta.store import sqlite_revision_behind

    url = f"sqlite:///{tmp_path / 'metadata.sqlite3'}"
    assert sqlite_revision_behind(url) is None  # no database yet: a fresh start
    engine = make_engine(url)
    migrate_meta(engine, "0001")
    assert sqlite_revision_behind(url) == "0001"
    migrate_meta(engine)
    assert sqlite_revision_behind(url) is None  # current
    with engine.begin() as conn:  # as a newer version would leave it
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_later'"))
    engine.dispose()
    assert sqlite_revision_behind(url) is None


def test_a_deletion_waits_in_a_backup_before_an_upgrade_until_it_is_restored(
    tmp_path: Path,
) -> None:
    import shutil

    from tests.conftest import make_settings
    from userlens.store.backup import pending_erasures
    from userlens.web.services import open_services

    data = tmp_path / "data"
    _old_event_store(data, "gone", "gone", "kept")
    settings = make_settings(data)
    services = open_services(settings)
    try:
        [before] = list_backups(settings.backups_dir)
        services.erase_person(1, "gone")
        # The old version's copy stays as that version left it, the deletion noted beside it.
        assert services.apply_backup_erasures() == 0
    finally:
        services.close()
    folder = settings.backups_dir / before.name
    copy = duckdb.connect(str(folder / "events.duckdb"), read_only=True)
    assert copy.execute("SELECT max(version) FROM schema_migrations").fetchall() == [(2,)]
    assert copy.execute("SELECT count(*) FROM events").fetchall() == [(3,)]
    copy.close()
    assert [e.distinct_ids for e in pending_erasures(folder).erasures] == [("gone",)]
    assert list_backups(settings.backups_dir)[0].pending_erasures == 1
    # Restored, it is upgraded and the deletion repeated before anyone reads it.
    restored = tmp_path / "restored"
    shutil.copytree(folder, restored)
    services = open_services(make_settings(restored))
    try:
        assert services.events.count_events(1) == 1
    finally:
        services.close()
    assert not (restored / "pending-erasures.jsonl").exists()
