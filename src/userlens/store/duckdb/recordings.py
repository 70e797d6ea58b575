"""Recording chunk index, the session list and person deletion on DuckDB."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from userlens.errors import InvalidInput
from userlens.model.recording import (
    PersonDeletion,
    ProjectDeletion,
    RecordingChunk,
    SessionCursor,
    SessionFilter,
    SessionPage,
    SessionSummary,
)
from userlens.store.duckdb.views import registered
from userlens.store.times import to_naive, to_utc

_CHUNK_FIELDS = (
    "project_id",
    "session_id",
    "window_id",
    "distinct_id",
    "blob_key",
    "first_ts_us",
    "last_ts_us",
    "event_count",
    "bytes",
    "has_full_snapshot",
    "clicks",
    "console_errors",
    "href",
    "received_at_us",
)


def _insert_chunks(con: duckdb.DuckDBPyConnection, chunks: Sequence[RecordingChunk]) -> None:
    table = pa.table({name: [getattr(c, name) for c in chunks] for name in _CHUNK_FIELDS})
    with registered(con, "_chunks", table):
        con.execute(
            "INSERT OR IGNORE INTO recording_chunks SELECT project_id, session_id, window_id, "
            "distinct_id, blob_key, make_timestamp(first_ts_us), make_timestamp(last_ts_us), "
            "event_count, bytes, has_full_snapshot, clicks, console_errors, href, "
            "make_timestamp(received_at_us) FROM _chunks"
        ).fetchall()


def recording_chunks(
    cur: duckdb.DuckDBPyConnection, project_id: int, session_id: str
) -> list[RecordingChunk]:
    rows = cur.execute(
        "SELECT project_id, session_id, window_id, distinct_id, blob_key, epoch_us(first_ts), "
        "epoch_us(last_ts), event_count, bytes, has_full_snapshot, clicks, console_errors, "
        "href, epoch_us(received_at) FROM recording_chunks "
        "WHERE project_id = ? AND session_id = ? ORDER BY first_ts, blob_key",
        [project_id, session_id],
    ).fetchall()
    return [RecordingChunk(*row) for row in rows]


_SESSIONS_SQL = """
WITH c AS (
    SELECT session_id, arg_min(distinct_id, first_ts) AS distinct_id,
           min(first_ts) AS start_ts, max(last_ts) AS end_ts,
           count(DISTINCT window_id) AS windows, sum(bytes) AS bytes, sum(clicks) AS clicks,
           sum(console_errors) AS console_errors, arg_min(href, first_ts) AS first_href
    FROM recording_chunks WHERE project_id = $project GROUP BY session_id
), e AS (
    SELECT e.session_id,
           count(*) FILTER (WHERE e.event = '$pageview') AS pageviews,
           count(*) FILTER (WHERE e.event = '$exception') AS errors,
           count(*) FILTER (WHERE e.event = '$rageclick') AS rage_clicks,
           count(*) FILTER (WHERE e.event = '$dead_click') AS dead_clicks,
           arg_min(e.current_url, e.timestamp) AS first_url,
           arg_min(coalesce(o.override_person_id, e.person_id), e.timestamp) AS person_id,
           any_value(e.browser) AS browser, any_value(e.os) AS os,
           any_value(e.device_type) AS device_type, any_value(e.country) AS country
    FROM events e LEFT JOIN person_overrides o
        ON o.project_id = e.project_id AND o.old_person_id = e.person_id
    WHERE e.project_id = $project AND e.session_id IN (SELECT session_id FROM c)
    GROUP BY e.session_id
)
SELECT c.session_id, c.distinct_id, CAST(e.person_id AS VARCHAR), c.start_ts, c.end_ts,
       c.windows, c.bytes, c.clicks, c.console_errors, coalesce(e.first_url, c.first_href),
       coalesce(e.pageviews, 0), coalesce(e.errors, 0), coalesce(e.rage_clicks, 0),
       coalesce(e.dead_clicks, 0), e.browser, e.os, e.device_type, e.country,
       coalesce(nullif(trim(p.properties->>'email'), ''), nullif(trim(p.properties->>'name'), ''))
FROM c LEFT JOIN e USING (session_id)
LEFT JOIN persons p ON p.project_id = $project AND p.id = e.person_id
WHERE {where}
ORDER BY {order}, c.start_ts DESC, c.session_id DESC
LIMIT $limit
"""

_ORDERS = {
    "start": "c.start_ts DESC",
    "duration": "epoch_us(c.end_ts) - epoch_us(c.start_ts) DESC",
    "errors": "coalesce(e.errors, 0) + c.console_errors DESC",
    "activity": "c.clicks DESC",
}


def _what_happened(filters: SessionFilter, where: list[str], params: dict[str, Any]) -> None:
    """The filters on what the session holds: pages, events, clicks, device."""
    if filters.url_contains:
        where.append(
            "c.session_id IN (SELECT session_id FROM events WHERE project_id = $project "
            "AND contains(lower(current_url), lower($url)))"
        )
        params["url"] = filters.url_contains
    if filters.did_event:
        where.append(
            "c.session_id IN (SELECT session_id FROM events WHERE project_id = $project "
            "AND event = $did_event)"
        )
        params["did_event"] = filters.did_event
    for flag, column in (
        (filters.has_rage_clicks, "e.rage_clicks"),
        (filters.has_dead_clicks, "e.dead_clicks"),
    ):
        if flag is not None:
            where.append(("" if flag else "NOT ") + f"(coalesce({column}, 0) > 0)")
    for name in ("browser", "os", "device_type", "country"):
        value = getattr(filters, name)
        if value:
            where.append(f"e.{name} = ${name}")
            params[name] = value
    if filters.person_ids is not None:
        where.append("e.person_id IN (SELECT CAST(unnest($person_ids) AS UUID))")
        params["person_ids"] = list(filters.person_ids)


def _session_where(
    filters: SessionFilter, cursor: SessionCursor | None
) -> tuple[str, dict[str, Any]]:
    where = ["TRUE"]
    params: dict[str, Any] = {}
    if filters.distinct_id is not None:
        where.append(
            "c.session_id IN (SELECT session_id FROM recording_chunks "
            "WHERE project_id = $project AND distinct_id = $distinct_id)"
        )
        params["distinct_id"] = filters.distinct_id
    if filters.after is not None:
        where.append("c.end_ts >= $after")
        params["after"] = to_naive(filters.after)
    if filters.before is not None:
        where.append("c.start_ts < $before")
        params["before"] = to_naive(filters.before)
    if filters.min_duration_s is not None:
        where.append("epoch_us(c.end_ts) - epoch_us(c.start_ts) >= $min_us")
        params["min_us"] = int(filters.min_duration_s * 1_000_000)
    if filters.has_errors is not None:
        where.append(
            ("" if filters.has_errors else "NOT ")
            + "(coalesce(e.errors, 0) + c.console_errors > 0)"
        )
    _what_happened(filters, where, params)
    if cursor is not None:
        where.append(
            "(c.start_ts < $cursor_ts OR (c.start_ts = $cursor_ts AND c.session_id < $cursor_id))"
        )
        params["cursor_ts"] = to_naive(cursor.start)
        params["cursor_id"] = cursor.session_id
    return " AND ".join(where), params


def sessions(
    cur: duckdb.DuckDBPyConnection,
    project_id: int,
    filters: SessionFilter,
    *,
    limit: int,
    cursor: SessionCursor | None,
) -> SessionPage:
    if filters.sort not in _ORDERS:
        raise InvalidInput(f"sort: one of {', '.join(_ORDERS)}")
    if cursor is not None and filters.sort != "start":
        raise InvalidInput("cursor: only sessions sorted by start are paged")
    where, params = _session_where(filters, cursor)
    rows = cur.execute(
        _SESSIONS_SQL.format(where=where, order=_ORDERS[filters.sort]),
        {**params, "project": project_id, "limit": limit + 1},
    ).fetchall()
    found = tuple(_summary(r) for r in rows[:limit])
    next_cursor = (
        SessionCursor(start=found[-1].start, session_id=found[-1].session_id)
        if len(rows) > limit and filters.sort == "start"
        else None
    )
    return SessionPage(sessions=found, next_cursor=next_cursor)


def _summary(r: tuple[Any, ...]) -> SessionSummary:
    start, end = to_utc(r[3]), to_utc(r[4])
    return SessionSummary(
        session_id=r[0],
        distinct_id=r[1],
        person_id=r[2],
        start=start,
        end=end,
        duration_s=(end - start).total_seconds(),
        windows=int(r[5]),
        recording_bytes=int(r[6]),
        clicks=int(r[7]),
        console_errors=int(r[8]),
        first_url=r[9],
        pageviews=int(r[10]),
        errors=int(r[11]),
        rage_clicks=int(r[12]),
        dead_clicks=int(r[13]),
        browser=r[14],
        os=r[15],
        device_type=r[16],
        country=r[17],
        person_name=r[18],
    )


def _person_ids(
    con: duckdb.DuckDBPyConnection, project_id: int, distinct_id: str
) -> tuple[str | None, list[str]]:
    row = con.execute(
        "SELECT CAST(person_id AS VARCHAR) FROM person_distinct_ids "
        "WHERE project_id = ? AND distinct_id = ?",
        [project_id, distinct_id],
    ).fetchall()
    if not row:
        return None, [distinct_id]
    pid = str(row[0][0])
    ids = con.execute(
        "SELECT distinct_id FROM person_distinct_ids WHERE project_id = ? AND person_id = ?",
        [project_id, pid],
    ).fetchall()
    return pid, sorted({distinct_id, *(str(r[0]) for r in ids)})


def delete_person(
    con: duckdb.DuckDBPyConnection,
    project_id: int,
    distinct_id: str,
    *,
    before_commit: Callable[[PersonDeletion], None],
) -> PersonDeletion:
    """Delete a person's events, person rows and recording index in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        pid, ids = _person_ids(con, project_id, distinct_id)
        con.register("_ids", pa.table({"distinct_id": ids}))
        sessions_found = con.execute(
            "SELECT DISTINCT session_id FROM ("
            "  SELECT session_id FROM recording_chunks WHERE project_id = $p"
            "    AND distinct_id IN (SELECT distinct_id FROM _ids)"
            "  UNION SELECT session_id FROM events WHERE project_id = $p"
            "    AND session_id IS NOT NULL AND distinct_id IN (SELECT distinct_id FROM _ids)"
            ") ORDER BY session_id",
            {"p": project_id},
        ).fetchall()
        session_ids = tuple(str(r[0]) for r in sessions_found)
        recorded = con.execute(
            "SELECT DISTINCT session_id FROM recording_chunks WHERE project_id = $p "
            "AND distinct_id IN (SELECT distinct_id FROM _ids) ORDER BY session_id",
            {"p": project_id},
        ).fetchall()
        deleted = con.execute(
            "DELETE FROM events WHERE project_id = $p "
            "AND distinct_id IN (SELECT distinct_id FROM _ids)",
            {"p": project_id},
        ).fetchall()
        con.register("_sessions", pa.table({"session_id": pa.array(session_ids, pa.string())}))
        con.execute(
            "DELETE FROM recording_chunks WHERE project_id = $p "
            "AND session_id IN (SELECT session_id FROM _sessions)",
            {"p": project_id},
        ).fetchall()
        con.execute(
            "DELETE FROM person_distinct_ids WHERE project_id = $p "
            "AND distinct_id IN (SELECT distinct_id FROM _ids)",
            {"p": project_id},
        ).fetchall()
        if pid is not None:
            con.execute(
                "DELETE FROM persons WHERE project_id = ? AND id = ?", [project_id, pid]
            ).fetchall()
            con.execute(
                "DELETE FROM person_overrides WHERE project_id = ? "
                "AND (override_person_id = ? OR old_person_id = ?)",
                [project_id, pid, pid],
            ).fetchall()
        result = PersonDeletion(
            events=int(deleted[0][0]) if deleted else 0,
            distinct_ids=tuple(ids),
            sessions=session_ids,
            blob_prefixes=tuple(f"recordings/{project_id}/{r[0]}/" for r in recorded),
        )
        before_commit(result)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for view in ("_ids", "_sessions"):
            with contextlib.suppress(duckdb.Error):
                con.unregister(view)
    return result


def delete_project(
    con: duckdb.DuckDBPyConnection,
    project_id: int,
    *,
    before_commit: Callable[[ProjectDeletion], None],
) -> ProjectDeletion:
    """Delete all of a project's events, persons and recording index in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        p = {"p": project_id}
        recorded = con.execute(
            "SELECT count(DISTINCT session_id) FROM recording_chunks WHERE project_id = $p", p
        ).fetchall()
        events = con.execute("DELETE FROM events WHERE project_id = $p", p).fetchall()
        persons = con.execute("DELETE FROM persons WHERE project_id = $p", p).fetchall()
        for table in ("person_distinct_ids", "person_overrides", "recording_chunks"):
            con.execute(f"DELETE FROM {table} WHERE project_id = $p", p).fetchall()
        result = ProjectDeletion(
            events=int(events[0][0]) if events else 0,
            persons=int(persons[0][0]) if persons else 0,
            recorded_sessions=int(recorded[0][0]) if recorded else 0,
            blob_prefixes=(f"recordings/{project_id}/",),
        )
        before_commit(result)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return result


def expire_chunks(
    con: duckdb.DuckDBPyConnection,
    project_id: int,
    before: datetime,
    *,
    before_commit: Callable[[list[str]], None],
) -> list[str]:
    """Delete the index of chunks that ended before `before`; return their blob keys."""
    con.execute("BEGIN TRANSACTION")
    try:
        rows = con.execute(
            "DELETE FROM recording_chunks WHERE project_id = ? AND last_ts < ? RETURNING blob_key",
            [project_id, to_naive(before)],
        ).fetchall()
        keys = sorted(str(r[0]) for r in rows)
        before_commit(keys)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return keys


def compactable_windows(
    cur: duckdb.DuckDBPyConnection, project_id: int, received_before: datetime
) -> list[tuple[str, str]]:
    rows = cur.execute(
        "SELECT session_id, window_id FROM recording_chunks WHERE project_id = ? "
        "GROUP BY session_id, window_id "
        "HAVING count(*) > 1 AND max(received_at) < ? ORDER BY session_id, window_id",
        [project_id, to_naive(received_before)],
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def replace_chunks(
    con: duckdb.DuckDBPyConnection, project_id: int, old_keys: Sequence[str], new: RecordingChunk
) -> bool:
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("_old", pa.table({"blob_key": pa.array(list(old_keys), pa.string())}))
        found = con.execute(
            "SELECT count(*) FROM recording_chunks WHERE project_id = ? "
            "AND blob_key IN (SELECT blob_key FROM _old)",
            [project_id],
        ).fetchone()
        if not found or int(found[0]) != len(set(old_keys)):
            con.execute("ROLLBACK")
            return False
        con.execute(
            "DELETE FROM recording_chunks WHERE project_id = ? "
            "AND blob_key IN (SELECT blob_key FROM _old)",
            [project_id],
        ).fetchall()
        _insert_chunks(con, [new])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        with contextlib.suppress(duckdb.Error):
            con.unregister("_old")
    return True
