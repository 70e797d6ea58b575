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
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from userlens.model.backup import BackupCounts
from userlens.store.duckdb.views import registered


def copy_database(
    con: duckdb.DuckDBPyConnection,
    write_lock: threading.Lock,
    source: Path,
    source_fd: int,
    path: Path,
    *,
    copy_blobs: Callable[[list[str]], list[str]],
) -> BackupCounts:
    """Copy the store whose file is `source`, as of one moment, to a new file at `path`.

    `write_lock` is the store's: held, no transaction writes. The file is read through
    `source_fd`, a descriptor the store keeps open for as long as DuckDB has the file: DuckDB
    keeps other processes out with a POSIX lock, which this process would lose on closing any
    descriptor of the file, its own or not. `copy_blobs` gets the blob keys of the copy's
    recording chunks and returns those it could not copy because they were deleted since (a
    retention sweep, a person's deletion): their rows are left out of the copy, so that it
    never points at a recording it does not hold.
    """
    if path.exists():
        raise FileExistsError(f"{path} exists")
    log = Path(f"{source}.wal")
    with write_lock:
        with contextlib.suppress(duckdb.Error):  # then the log is copied as it is
            con.execute("CHECKPOINT")
        copy_from_descriptor(source_fd, path)
        if log.exists():
            copy_durably(log, Path(f"{path}.wal"))
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
            row = cur.execute(_COUNTS.format(db=alias)).fetchall()[0]
            cur.execute(f"CHECKPOINT {alias}")
        finally:
            cur.execute(f"DETACH {alias}")
    return _counts(row)


_COUNTS = (
    "SELECT (SELECT count(*) FROM {db}.events), (SELECT count(*) FROM {db}.persons), "
    "(SELECT count(DISTINCT (project_id, session_id)) FROM {db}.recording_chunks), "
    "(SELECT count(*) FROM {db}.recording_chunks)"
)


def _counts(row: tuple[Any, ...]) -> BackupCounts:
    return BackupCounts(
        events=int(row[0]),
        persons=int(row[1]),
        recorded_sessions=int(row[2]),
        recording_chunks=int(row[3]),
    )


def copy_from_descriptor(source_fd: int, target: Path) -> None:
    """Copy the whole file open as `source_fd` (read at explicit offsets: its position is
    left alone) into a new file `target`, fsynced. The descriptor stays open."""
    size = os.fstat(source_fd).st_size
    with open(target, "xb") as out:
        done = 0
        while done < size:
            try:
                sent = os.sendfile(out.fileno(), source_fd, done, min(size - done, 1 << 30))
            except OSError:  # a file system without sendfile between files
                chunk = os.pread(source_fd, min(size - done, 8 << 20), done)
                sent = out.write(chunk) if chunk else 0
            if sent == 0:  # the file shrank meanwhile: nothing writes it while copied
                raise OSError(f"{target}: the source ended at {done} of {size} bytes")
            done += sent
        out.flush()
        os.fsync(out.fileno())


def copy_durably(source: Path, target: Path) -> None:
    """Copy a file nobody holds a lock on (closing it here would drop this process's) into a
    new file `target`, fsynced."""
    fd = os.open(source, os.O_RDONLY)
    try:
        copy_from_descriptor(fd, target)
    finally:
        os.close(fd)


def count_rows(path: Path) -> BackupCounts:
    """What the store in file `path` holds, read without changing it."""
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute(_COUNTS.format(db="main")).fetchall()[0]
    return _counts(row)
