"""A consistent copy of the whole DuckDB store in a new file, taken between two writes.

Copying the rows with SQL (`COPY FROM DATABASE`) rebuilds the events' primary-key index in
memory: at 10 million events that alone passes a 512 MB memory limit. So the copy is of the
files instead, which costs no memory: with the writer held, DuckDB folds its log into the
database file, and the file (and what is left of its log) is copied while nothing writes to
either. Capture goes on meanwhile; its events wait in the write-ahead log.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from userlens.model.backup import BackupCounts
from userlens.store.duckdb.views import registered


def copy_database(
    con: duckdb.DuckDBPyConnection,
    write_lock: threading.Lock,
    source: Path,
    path: Path,
    *,
    copy_blobs: Callable[[list[str]], list[str]],
) -> BackupCounts:
    """Copy the store whose file is `source`, as of one moment, to a new file at `path`.

    `write_lock` is the store's: held, no transaction writes. `copy_blobs` gets the blob keys
    of the copy's recording chunks and returns those it could not copy because they were
    deleted since (a retention sweep, a person's deletion): their rows are left out of the
    copy, so that it never points at a recording it does not hold.
    """
    if path.exists():
        raise FileExistsError(f"{path} exists")
    log = Path(f"{source}.wal")
    with write_lock:
        with contextlib.suppress(duckdb.Error):  # then the log is copied as it is
            con.execute("CHECKPOINT")
        _copy(source, path)
        if log.exists():
            _copy(log, Path(f"{path}.wal"))
    alias = f"_backup_{secrets.token_hex(6)}"
    with con.cursor() as cur:
        cur.execute(f"ATTACH ? AS {alias}", [str(path)])
        try:
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
            cur.execute(f"CHECKPOINT {alias}")
        finally:
            cur.execute(f"DETACH {alias}")
    return BackupCounts(
        events=int(row[0]),
        persons=int(row[1]),
        recorded_sessions=int(row[2]),
        recording_chunks=int(row[3]),
    )


def _copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    with open(target, "rb+") as handle:
        os.fsync(handle.fileno())
