"""ClickHouse tables, applied as numbered migrations recorded in `schema_migrations`.

Events are an append-only MergeTree sorted for the insight scans (project, day, event).
Person state changes, so its tables are ReplacingMergeTree: every change is a new row with a
higher `version`, a deletion a row with `is_deleted = 1`, and reads use FINAL to see the
latest row of each key.
"""

from __future__ import annotations

from userlens.store.clickhouse.transport import Transport

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """
            CREATE TABLE IF NOT EXISTS {db}.events (
                project_id Int32,
                uuid UUID,
                event String,
                distinct_id String,
                person_id UUID,
                timestamp DateTime64(6, 'UTC'),
                received_at DateTime64(6, 'UTC'),
                session_id Nullable(String),
                window_id Nullable(String),
                current_url Nullable(String),
                pathname Nullable(String),
                referrer Nullable(String),
                referring_domain Nullable(String),
                browser Nullable(String),
                browser_version Nullable(String),
                os Nullable(String),
                os_version Nullable(String),
                device_type Nullable(String),
                country Nullable(String),
                lib Nullable(String),
                lib_version Nullable(String),
                properties String,
                INDEX uuid_index uuid TYPE bloom_filter GRANULARITY 4
            ) ENGINE = MergeTree
            PARTITION BY toYYYYMM(timestamp)
            ORDER BY (project_id, toDate(timestamp), event, uuid)
            """,
            """
            CREATE TABLE IF NOT EXISTS {db}.persons (
                project_id Int32,
                id UUID,
                created_at DateTime64(6, 'UTC'),
                properties String,
                is_identified Bool,
                version UInt64,
                is_deleted UInt8
            ) ENGINE = ReplacingMergeTree(version, is_deleted)
            ORDER BY (project_id, id)
            """,
            """
            CREATE TABLE IF NOT EXISTS {db}.person_distinct_ids (
                project_id Int32,
                distinct_id String,
                person_id UUID,
                version UInt64,
                is_deleted UInt8
            ) ENGINE = ReplacingMergeTree(version, is_deleted)
            ORDER BY (project_id, distinct_id)
            """,
            """
            CREATE TABLE IF NOT EXISTS {db}.person_overrides (
                project_id Int32,
                old_person_id UUID,
                override_person_id UUID,
                version UInt64,
                is_deleted UInt8
            ) ENGINE = ReplacingMergeTree(version, is_deleted)
            ORDER BY (project_id, old_person_id)
            """,
        ),
    ),
)
LATEST = MIGRATIONS[-1][0]


def migrate(transport: Transport, database: str) -> int:
    """Create the database and apply every migration it has not had; return its version."""
    if not database.isidentifier():
        raise ValueError(f"not a database name: {database!r}")
    transport.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    transport.command(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, applied_at DateTime64(6, 'UTC') DEFAULT now64(6)) "
        "ENGINE = MergeTree ORDER BY version"
    )
    found = transport.query(f"SELECT max(version) AS v FROM {database}.schema_migrations")
    version = int(found.column("v")[0].as_py() or 0)
    for number, statements in MIGRATIONS:
        if version < number:
            for sql in statements:
                transport.command(sql.format(db=database))
            transport.command(
                f"INSERT INTO {database}.schema_migrations (version) VALUES ({number})"
            )
            version = number
    return version
