"""`EventStore` on an embedded DuckDB file: one writer connection, a cursor per reader."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from userlens.errors import InvalidInput, StoreOutOfMemory, first_line
from userlens.model.backup import BackupCounts
from userlens.model.event import (
    CapturedEvent,
    EventCursor,
    EventFilter,
    EventPage,
    Person,
    StoredEvent,
    WriteResult,
)
from userlens.model.recording import (
    PersonDeletion,
    ProjectDeletion,
    RecordingChunk,
    SessionCursor,
    SessionFilter,
    SessionPage,
)
from userlens.store.duckdb.backup import copy_database
from userlens.store.duckdb.recordings import (
    _insert_chunks,
    compactable_windows,
    delete_person,
    delete_project,
    expire_chunks,
    recording_chunks,
    replace_chunks,
    sessions,
)
from userlens.store.duckdb.schema import migrate
from userlens.store.duckdb.views import registered
from userlens.store.events import event_key, unique_events
from userlens.store.persons import PersonChanges, PersonProcessor, PersonRow, ProjectKey
from userlens.store.sql import Query, scope
from userlens.store.times import to_naive, to_utc

log = logging.getLogger(__name__)

# DuckDB's own log size that makes a commit checkpoint at once, and the size that makes an idle
# writer checkpoint (DuckDB's default threshold).
CHECKPOINT_MB = 256
IDLE_CHECKPOINT_MB = 16

_EVENT_SCHEMA = pa.schema(
    [
        ("project_id", pa.int32()),
        ("uuid", pa.string()),
        ("event", pa.string()),
        ("distinct_id", pa.string()),
        ("person_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("received_at", pa.timestamp("us")),
        ("session_id", pa.string()),
        ("window_id", pa.string()),
        ("current_url", pa.string()),
        ("pathname", pa.string()),
        ("referrer", pa.string()),
        ("referring_domain", pa.string()),
        ("browser", pa.string()),
        ("browser_version", pa.string()),
        ("os", pa.string()),
        ("os_version", pa.string()),
        ("device_type", pa.string()),
        ("country", pa.string()),
        ("lib", pa.string()),
        ("lib_version", pa.string()),
        ("properties", pa.string()),
    ]
)

_READ_COLUMNS = """
    CAST(e.uuid AS VARCHAR), e.event, e.distinct_id,
    CAST(coalesce(o.override_person_id, e.person_id) AS VARCHAR),
    e.timestamp, e.received_at, e.session_id, e.window_id, e.current_url, e.pathname,
    e.referrer, e.referring_domain, e.browser, e.browser_version, e.os, e.os_version,
    e.device_type, e.country, e.lib, e.lib_version, CAST(e.properties AS VARCHAR)
"""


# The rows of an `_event_table` registered as `_batch`, in the `events` table's column order.
BATCH_ROWS = (
    "SELECT project_id, CAST(uuid AS UUID), event, distinct_id, CAST(person_id AS UUID), "
    "* EXCLUDE (project_id, uuid, event, distinct_id, person_id) FROM _batch"
)


def _event_table(events: Sequence[CapturedEvent]) -> pa.Table:
    # Column by column: one tight comprehension per column beats appending row by row.
    columns = {
        "project_id": [e.project_id for e in events],
        "uuid": [e.uuid for e in events],
        "event": [e.event for e in events],
        "distinct_id": [e.distinct_id for e in events],
        "person_id": [e.person_id for e in events],
        "timestamp": [e.timestamp_us for e in events],
        "received_at": [e.received_at_us for e in events],
        "session_id": [e.session_id for e in events],
        "window_id": [e.window_id for e in events],
        "current_url": [e.current_url for e in events],
        "pathname": [e.pathname for e in events],
        "referrer": [e.referrer for e in events],
        "referring_domain": [e.referring_domain for e in events],
        "browser": [e.browser for e in events],
        "browser_version": [e.browser_version for e in events],
        "os": [e.os for e in events],
        "os_version": [e.os_version for e in events],
        "device_type": [e.device_type for e in events],
        "country": [e.country for e in events],
        "lib": [e.lib for e in events],
        "lib_version": [e.lib_version for e in events],
        "properties": [e.properties_json for e in events],
    }
    return pa.Table.from_arrays(
        [pa.array(columns[f.name], type=f.type) for f in _EVENT_SCHEMA], schema=_EVENT_SCHEMA
    )


class _DuckPersonSource:
    """Committed person state, read through the writer's own connection (same transaction)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def persons_of(self, keys: Sequence[ProjectKey]) -> dict[ProjectKey, str]:
        if not keys:
            return {}
        lookup = pa.table(
            {
                "project_id": pa.array([k[0] for k in keys], pa.int32()),
                "distinct_id": pa.array([k[1] for k in keys], pa.string()),
            }
        )
        with registered(self._con, "_lookup_ids", lookup):
            rows = self._con.execute(
                "SELECT d.project_id, d.distinct_id, CAST(d.person_id AS VARCHAR) "
                "FROM person_distinct_ids d SEMI JOIN _lookup_ids l "
                "ON d.project_id = l.project_id AND d.distinct_id = l.distinct_id"
            ).fetchall()
        return {(int(p), str(d)): str(pid) for p, d, pid in rows}

    def load_persons(self, keys: Sequence[ProjectKey]) -> dict[ProjectKey, PersonRow]:
        if not keys:
            return {}
        lookup = pa.table(
            {
                "project_id": pa.array([k[0] for k in keys], pa.int32()),
                "id": pa.array([k[1] for k in keys], pa.string()),
            }
        )
        with registered(self._con, "_lookup_persons", lookup):
            rows = self._con.execute(
                "SELECT p.project_id, CAST(p.id AS VARCHAR), epoch_us(p.created_at), "
                "CAST(p.properties AS VARCHAR), p.is_identified FROM persons p "
                "SEMI JOIN _lookup_persons l ON p.project_id = l.project_id "
                "AND p.id = CAST(l.id AS UUID)"
            ).fetchall()
        return {
            (int(project), pid): PersonRow(
                id=pid,
                created_at_us=int(created),
                properties=orjson.loads(props),
                is_identified=bool(identified),
            )
            for project, pid, created, props, identified in rows
        }

    def distinct_ids_of(self, project_id: int, person_id: str) -> list[str]:
        rows = self._con.execute(
            "SELECT distinct_id FROM person_distinct_ids WHERE project_id = ? AND person_id = ?",
            [project_id, person_id],
        ).fetchall()
        return [str(r[0]) for r in rows]


class DuckDBEventStore:
    """Events and persons in one DuckDB file. `write` is for the single writer thread."""

    dialect = "duckdb"

    def __init__(
        self,
        path: Path | None,
        *,
        memory_limit: str = "1GB",
        threads: int = 2,
        checkpoint_mb: int = CHECKPOINT_MB,
        idle_checkpoint_mb: int = IDLE_CHECKPOINT_MB,
    ) -> None:
        """Open (creating and migrating) the store at `path`; `None` keeps it in memory.

        DuckDB folds its own log into the database file (a checkpoint: compressing and writing
        the new rows) once the log passes `checkpoint_mb`, on the commit that crosses it. That
        costs about as much as the insert itself, so it is kept off busy moments: the writer
        calls `idle` when nothing is queued, which checkpoints once `idle_checkpoint_mb` have
        accumulated.
        """
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(
            str(path) if path is not None else ":memory:",
            config={
                "memory_limit": memory_limit,
                "threads": threads,
                "checkpoint_threshold": f"{checkpoint_mb}MB",
                # An ASOF join whose left side looks small becomes a nested loop join, every
                # left row against every right one of its key. The estimate for a funnel's
                # attempts is often a handful, so one person with 5,000 attempts cost 25
                # million comparisons per step: always take the sorted ASOF join.
                "asof_loop_join_threshold": 0,
            },
        )
        self._path = path
        # A descriptor of the file for backups to read it through, kept open until the store
        # closes: closing any descriptor of the file would drop DuckDB's lock on it.
        self._file_fd = os.open(path, os.O_RDONLY) if path is not None else -1
        self._log_path = Path(f"{path}.wal") if path is not None else None
        self._idle_checkpoint_bytes = idle_checkpoint_mb * 1024 * 1024
        migrate(self._con)
        self._write_lock = threading.Lock()
        self._closed = False
        self._versions: dict[int, int] = {}

    # -- writing ---------------------------------------------------------------------------

    def write(
        self, events: Sequence[CapturedEvent], chunks: Sequence[RecordingChunk] = ()
    ) -> WriteResult:
        fresh = unique_events(events)
        with self._write_lock:
            try:
                while True:
                    new = self._write_once(fresh, chunks)
                    if new is None:
                        break
                    # Some events were stored before (a batch written again from the log, an
                    # SDK retrying): their person changes are applied already. Redo the batch
                    # with the new events alone, so persons end as if each was written once.
                    fresh = [e for e in fresh if event_key(e) in new]
            except duckdb.OutOfMemoryException as exc:  # rolled back; a smaller write may fit
                raise StoreOutOfMemory(
                    f"{len(fresh)} events and {len(chunks)} recording chunks did not fit in "
                    f"DuckDB's memory limit ({first_line(exc)})"
                ) from exc
            for project_id in {e.project_id for e in fresh}:
                self._bump(project_id)
        inserted = len(fresh)
        return WriteResult(received=len(events), inserted=inserted)

    def _write_once(
        self, events: Sequence[CapturedEvent], chunks: Sequence[RecordingChunk]
    ) -> set[tuple[int, str]] | None:
        """One transaction: persons, chunks and events. Commits when every event was new and
        returns None; otherwise rolls back and returns the (project, uuid) of the new ones."""
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            changes = PersonProcessor(_DuckPersonSource(con)).process(events)
            self._persist_persons(con, changes)
            if chunks:
                _insert_chunks(con, chunks)
            with registered(con, "_batch", _event_table(events)):
                rows = con.execute(
                    f"INSERT OR IGNORE INTO events {BATCH_ROWS} "
                    "RETURNING project_id, CAST(uuid AS VARCHAR) AS uuid"
                ).fetchall()  # not `fetchnumpy`: numpy is no dependency of the server
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if len(rows) == len(events):
            con.execute("COMMIT")
            return None
        con.execute("ROLLBACK")
        return {(int(project_id), str(uid)) for project_id, uid in rows}

    def _bump(self, project_id: int) -> None:
        self._versions[project_id] = self._versions.get(project_id, 0) + 1

    def data_version(self, project_id: int) -> int:
        return self._versions.get(project_id, 0)

    @staticmethod
    def _persist_persons(con: duckdb.DuckDBPyConnection, changes: PersonChanges) -> None:
        for project_id, pid in changes.deleted:
            _run(con, "DELETE FROM persons WHERE project_id = ? AND id = ?", [project_id, pid])
            _run(
                con,
                "UPDATE person_overrides SET override_person_id = ? "
                "WHERE project_id = ? AND override_person_id = ?",
                [changes.overrides[(project_id, pid)], project_id, pid],
            )
        if changes.upserts:
            rows = list(changes.upserts.items())
            table = pa.table(
                {
                    "project_id": pa.array([k[0] for k, _ in rows], pa.int32()),
                    "id": pa.array([r.id for _, r in rows], pa.string()),
                    "created_at": pa.array([r.created_at_us for _, r in rows], pa.timestamp("us")),
                    "properties": pa.array(
                        [orjson.dumps(r.properties).decode() for _, r in rows], pa.string()
                    ),
                    "is_identified": pa.array([r.is_identified for _, r in rows], pa.bool_()),
                }
            )
            with registered(con, "_persons", table):
                _run(
                    con,
                    "INSERT OR REPLACE INTO persons SELECT project_id, CAST(id AS UUID), "
                    "created_at, properties, is_identified FROM _persons",
                )
        _upsert_pairs(con, "person_distinct_ids", "distinct_id", "person_id", changes.distinct_ids)
        _upsert_pairs(
            con, "person_overrides", "old_person_id", "override_person_id", changes.overrides
        )

    # -- reading ---------------------------------------------------------------------------

    def _reader(self) -> duckdb.DuckDBPyConnection:
        return self._con.cursor()

    def events(
        self,
        project_id: int,
        filters: EventFilter,
        *,
        limit: int,
        cursor: EventCursor | None = None,
    ) -> EventPage:
        where = ["e.project_id = ?"]
        params: list[Any] = [project_id]
        if filters.event is not None:
            where.append("e.event = ?")
            params.append(filters.event)
        if filters.distinct_id is not None:
            where.append("e.distinct_id = ?")
            params.append(filters.distinct_id)
        if filters.session_id is not None:
            where.append("e.session_id = ?")
            params.append(filters.session_id)
        if filters.uuids is not None:
            where.append("e.uuid IN (SELECT CAST(unnest(?) AS UUID))")
            params.append(list(filters.uuids))
        if filters.person_id is not None:
            where.append("coalesce(o.override_person_id, e.person_id) = CAST(? AS UUID)")
            params.append(filters.person_id)
        if filters.after is not None:
            where.append("e.timestamp >= ?")
            params.append(to_naive(filters.after))
        if filters.before is not None:
            where.append("e.timestamp < ?")
            params.append(to_naive(filters.before))
        if cursor is not None:
            where.append("(e.timestamp < ? OR (e.timestamp = ? AND CAST(e.uuid AS VARCHAR) < ?))")
            at = to_naive(cursor.timestamp)
            params.extend([at, at, cursor.uuid])
        sql = (
            f"SELECT {_READ_COLUMNS} FROM events e LEFT JOIN person_overrides o "
            "ON o.project_id = e.project_id AND o.old_person_id = e.person_id "
            f"WHERE {' AND '.join(where)} "
            "ORDER BY e.timestamp DESC, CAST(e.uuid AS VARCHAR) DESC LIMIT ?"
        )
        params.append(limit + 1)
        with self._reader() as cur:
            rows = cur.execute(sql, params).fetchall()
        events = tuple(_stored(r) for r in rows[:limit])
        next_cursor = (
            EventCursor(timestamp=events[-1].timestamp, uuid=events[-1].uuid)
            if len(rows) > limit
            else None
        )
        return EventPage(events=events, next_cursor=next_cursor)

    def person(self, project_id: int, distinct_id: str) -> Person | None:
        with self._reader() as cur:
            found = cur.execute(
                "SELECT CAST(p.id AS VARCHAR), p.created_at, CAST(p.properties AS VARCHAR), "
                "p.is_identified FROM person_distinct_ids d JOIN persons p "
                "ON p.project_id = d.project_id AND p.id = d.person_id "
                "WHERE d.project_id = ? AND d.distinct_id = ?",
                [project_id, distinct_id],
            ).fetchall()
            if not found:
                return None
            row = found[0]
            ids = cur.execute(
                "SELECT distinct_id FROM person_distinct_ids WHERE project_id = ? "
                "AND person_id = CAST(? AS UUID) ORDER BY distinct_id",
                [project_id, row[0]],
            ).fetchall()
        return Person(
            id=row[0],
            created_at=to_utc(row[1]),
            properties=orjson.loads(row[2]),
            distinct_ids=tuple(str(r[0]) for r in ids),
            is_identified=bool(row[3]),
        )

    def recording_chunks(self, project_id: int, session_id: str) -> list[RecordingChunk]:
        with self._reader() as cur:
            return recording_chunks(cur, project_id, session_id)

    def sessions(
        self,
        project_id: int,
        filters: SessionFilter,
        *,
        limit: int,
        cursor: SessionCursor | None = None,
    ) -> SessionPage:
        with self._reader() as cur:
            return sessions(cur, project_id, filters, limit=limit, cursor=cursor)

    def delete_person(
        self, project_id: int, distinct_id: str, *, before_commit: Callable[[PersonDeletion], None]
    ) -> PersonDeletion:
        with self._write_lock:
            try:
                return delete_person(
                    self._con, project_id, distinct_id, before_commit=before_commit
                )
            finally:
                self._bump(project_id)

    def delete_project(
        self, project_id: int, *, before_commit: Callable[[ProjectDeletion], None]
    ) -> ProjectDeletion:
        with self._write_lock:
            try:
                return delete_project(self._con, project_id, before_commit=before_commit)
            finally:
                self._bump(project_id)

    def expire_recordings(
        self, project_id: int, before: datetime, *, before_commit: Callable[[list[str]], None]
    ) -> list[str]:
        with self._write_lock:
            return expire_chunks(self._con, project_id, before, before_commit=before_commit)

    def compactable_windows(
        self, project_id: int, received_before: datetime
    ) -> list[tuple[str, str]]:
        with self._reader() as cur:
            return compactable_windows(cur, project_id, received_before)

    def replace_chunks(self, project_id: int, old_keys: Sequence[str], new: RecordingChunk) -> bool:
        with self._write_lock:
            return replace_chunks(self._con, project_id, old_keys, new)

    def query(self, project_id: int, query: Query) -> list[tuple[Any, ...]]:
        scoped = scope(query, project_id)
        with self._reader() as cur:
            try:
                return cur.execute(scoped.sql, scoped.params).fetchall()
            except duckdb.InvalidInputException as exc:  # e.g. a regex RE2 will not compile
                raise InvalidInput(f"the query cannot run: {exc}") from None

    def backup_to(
        self, path: Path, *, copy_blobs: Callable[[list[str]], list[str]]
    ) -> BackupCounts:
        """A consistent copy of the whole store in a new DuckDB file (see `copy_database`)."""
        if self._path is None:
            raise InvalidInput("a store kept in memory has no file to back up")
        return copy_database(
            self._con,
            self._write_lock,
            self._path,
            self._file_fd,
            path,
            copy_blobs=copy_blobs,
        )

    def count_events(self, project_id: int) -> int:
        with self._reader() as cur:
            row = cur.execute(
                "SELECT count(*) FROM events WHERE project_id = ?", [project_id]
            ).fetchone()
        return int(row[0]) if row else 0

    def idle(self) -> None:
        """Checkpoint if DuckDB's log holds more than a little: nothing is waiting to load."""
        if self._log_path is None:
            return
        try:
            size = self._log_path.stat().st_size
        except FileNotFoundError:
            return
        if size < self._idle_checkpoint_bytes:
            return
        with self._write_lock:
            if self._closed:
                return
            try:
                self._con.execute("CHECKPOINT")
            except duckdb.Error as exc:  # e.g. another transaction is writing: a later idle moment
                log.info("checkpoint put off: %s", exc)

    def close(self) -> None:
        with self._write_lock:
            if not self._closed:
                self._closed = True
                try:
                    self._con.execute("CHECKPOINT")
                    self._con.close()
                finally:
                    if self._file_fd >= 0:
                        os.close(self._file_fd)


def _upsert_pairs(
    con: duckdb.DuckDBPyConnection,
    table: str,
    key_col: str,
    value_col: str,
    pairs: dict[ProjectKey, str],
) -> None:
    if not pairs:
        return
    items = list(pairs.items())
    data = pa.table(
        {
            "project_id": pa.array([k[0] for k, _ in items], pa.int32()),
            "k": pa.array([k[1] for k, _ in items], pa.string()),
            "v": pa.array([v for _, v in items], pa.string()),
        }
    )
    with registered(con, "_pairs", data):
        _run(
            con,
            f"INSERT OR REPLACE INTO {table} (project_id, {key_col}, {value_col}) "
            "SELECT project_id, k, CAST(v AS UUID) FROM _pairs",
        )


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> None:
    """Execute a statement and drain its result, so the connection is free for the next one."""
    con.execute(sql, params or []).fetchall()


def _stored(row: tuple[Any, ...]) -> StoredEvent:
    return StoredEvent(
        uuid=row[0],
        event=row[1],
        distinct_id=row[2],
        person_id=row[3],
        timestamp=to_utc(row[4]),
        received_at=to_utc(row[5]),
        session_id=row[6],
        window_id=row[7],
        current_url=row[8],
        pathname=row[9],
        referrer=row[10],
        referring_domain=row[11],
        browser=row[12],
        browser_version=row[13],
        os=row[14],
        os_version=row[15],
        device_type=row[16],
        country=row[17],
        lib=row[18],
        lib_version=row[19],
        properties=orjson.loads(row[20]),
    )
