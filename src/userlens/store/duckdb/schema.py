"""DuckDB schema, applied as numbered migrations recorded in `schema_migrations`."""

from __future__ import annotations

from pathlib import Path

import duckdb

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE events (
            project_id INTEGER NOT NULL,
            uuid UUID NOT NULL,
            event VARCHAR NOT NULL,
            distinct_id VARCHAR NOT NULL,
            person_id UUID,
            timestamp TIMESTAMP NOT NULL,
            received_at TIMESTAMP NOT NULL,
            session_id VARCHAR,
            window_id VARCHAR,
            current_url VARCHAR,
            pathname VARCHAR,
            referrer VARCHAR,
            referring_domain VARCHAR,
            browser VARCHAR,
            browser_version VARCHAR,
            os VARCHAR,
            os_version VARCHAR,
            device_type VARCHAR,
            country VARCHAR,
            lib VARCHAR,
            lib_version VARCHAR,
            -- VARCHAR, not JSON: the JSON type re-validates every value on insert, and the
            -- capture path has already produced valid JSON. json_* functions read VARCHAR.
            properties VARCHAR NOT NULL,
            PRIMARY KEY (project_id, uuid)
        );
        CREATE TABLE persons (
            project_id INTEGER NOT NULL,
            id UUID NOT NULL,
            created_at TIMESTAMP NOT NULL,
            properties JSON NOT NULL,
            is_identified BOOLEAN NOT NULL,
            PRIMARY KEY (project_id, id)
        );
        CREATE TABLE person_distinct_ids (
            project_id INTEGER NOT NULL,
            distinct_id VARCHAR NOT NULL,
            person_id UUID NOT NULL,
            PRIMARY KEY (project_id, distinct_id)
        );
        CREATE TABLE person_overrides (
            project_id INTEGER NOT NULL,
            old_person_id UUID NOT NULL,
            override_person_id UUID NOT NULL,
            PRIMARY KEY (project_id, old_person_id)
        );
        """,
    ),
    (
        2,
        """
        CREATE TABLE recording_chunks (
            project_id INTEGER NOT NULL,
            session_id VARCHAR NOT NULL,
            window_id VARCHAR NOT NULL,
            distinct_id VARCHAR NOT NULL,
            blob_key VARCHAR NOT NULL,
            first_ts TIMESTAMP NOT NULL,
            last_ts TIMESTAMP NOT NULL,
            event_count INTEGER NOT NULL,
            bytes BIGINT NOT NULL,
            has_full_snapshot BOOLEAN NOT NULL,
            clicks INTEGER NOT NULL,
            console_errors INTEGER NOT NULL,
            href VARCHAR,
            received_at TIMESTAMP NOT NULL,
            PRIMARY KEY (project_id, blob_key)
        );
        """,
    ),
    (
        3,
        # `write` gives every event its person; insights count persons without a NULL test.
        "ALTER TABLE events ALTER COLUMN person_id SET NOT NULL;",
    ),
)

LATEST = MIGRATIONS[-1][0]


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at TIMESTAMP)"
    )
    row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def stored_version(path: Path) -> int | None:
    """The schema version of the store in file `path`, read without changing it; None when
    there is no such file, or when a running server holds it (and so has migrated it)."""
    if not path.exists():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException:
        return None
    with con:
        found = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations'"
        ).fetchall()
        if not found[0][0]:
            return 0
        row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(con: duckdb.DuckDBPyConnection, target: int = LATEST) -> int:
    """Apply every migration above the current version up to `target`; return the new version."""
    version = current_version(con)
    for number, sql in MIGRATIONS:
        if version < number <= target:
            con.execute("BEGIN")
            try:
                con.execute(sql)
                con.execute("INSERT INTO schema_migrations VALUES (?, current_timestamp)", [number])
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
            version = number
    return version
