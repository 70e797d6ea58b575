"""A consistent copy of the whole DuckDB store into a new file, while writes go on."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from userlens.model.backup import BackupCounts
from userlens.store.duckdb.views import registered


def copy_database(
    cur: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    copy_blobs: Callable[[list[str]], list[str]],
) -> BackupCounts:
    """Copy every table, as of one moment, into a new DuckDB file at `path`.

    One read transaction sees the store as it was when it began (writers are not held up).
    `copy_blobs` gets the blob keys of the copied recording chunks and returns those it could
    not copy, because they were deleted since (a retention sweep, a person's deletion): their
    rows are left out of the copy, so that it never points at a recording it does not hold.
    """
    if path.exists():
        raise FileExistsError(f"{path} exists")
    alias = f"_backup_{secrets.token_hex(6)}"
    source = cur.execute("SELECT current_database()").fetchall()[0][0]
    cur.execute(f"ATTACH ? AS {alias}", [str(path)])
    try:
        cur.execute("BEGIN TRANSACTION")
        try:
            cur.execute(f'COPY FROM DATABASE "{source}" TO {alias}')
            keys = cur.execute(f"SELECT blob_key FROM {alias}.recording_chunks").fetchall()
            missing = copy_blobs(sorted(str(k[0]) for k in keys))
            if missing:
                gone = pa.table({"blob_key": pa.array(missing, pa.string())})
                with registered(cur, "_gone_blobs", gone):
                    cur.execute(
                        f"DELETE FROM {alias}.recording_chunks "
                        "WHERE blob_key IN (SELECT blob_key FROM _gone_blobs)"
                    )
            row = cur.execute(
                f"SELECT (SELECT count(*) FROM {alias}.events), "
                f"(SELECT count(*) FROM {alias}.persons), "
                f"(SELECT count(DISTINCT (project_id, session_id)) FROM {alias}.recording_chunks), "
                f"(SELECT count(*) FROM {alias}.recording_chunks)"
            ).fetchall()[0]
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
    finally:
        cur.execute(f"DETACH {alias}")
    return BackupCounts(
        events=int(row[0]),
        persons=int(row[1]),
        recorded_sessions=int(row[2]),
        recording_chunks=int(row[3]),
    )
