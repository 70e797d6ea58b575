"""`/s/` ingestion: validate `$snapshot` items, decode them, store chunks as compressed blobs."""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

import orjson
import zstandard

from userlens.capture.normalize import distinct_id_of
from userlens.errors import EventRejected
from userlens.model.recording import RecordingChunk
from userlens.replay.snapshots import SnapshotError, decode_snapshot_data, summarize
from userlens.store.blobs import BlobStore

_SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")
DEFAULT_WINDOW = "default"
ZSTD_LEVEL = 3


@dataclasses.dataclass
class _Group:
    distinct_id: str
    events: list[dict[str, Any]]


def _safe_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _SAFE_ID.fullmatch(value):
        raise EventRejected(
            f"invalid_{field}",
            f"${field} must be 1-200 letters, digits, '.', '_' or '-', not starting with '.'",
        )
    return value


def _item(raw: Any, max_bytes: int) -> tuple[str, str, str, list[dict[str, Any]]]:
    """(session, window, distinct id, decoded rrweb events) of one `$snapshot` item."""
    if not isinstance(raw, dict):
        raise EventRejected("invalid_event", "each item must be a JSON object")
    if raw.get("event", "$snapshot") != "$snapshot":
        raise EventRejected("not_a_snapshot", "/s/ takes only $snapshot events")
    props = raw.get("properties")
    if not isinstance(props, dict):
        raise EventRejected("invalid_properties", "'properties' must be an object")
    if props.get("$session_id") is None:
        raise EventRejected("missing_session_id", "a snapshot needs properties.$session_id")
    session = _safe_id(props.get("$session_id"), "session_id")
    window_raw = props.get("$window_id")
    window = DEFAULT_WINDOW if window_raw is None else _safe_id(window_raw, "window_id")
    distinct_id = distinct_id_of(raw, props)
    if "$snapshot_data" not in props:
        raise EventRejected("missing_snapshot_data", "a snapshot needs properties.$snapshot_data")
    try:
        events = decode_snapshot_data(props["$snapshot_data"], max_bytes=max_bytes)
    except SnapshotError as exc:
        raise EventRejected(exc.code, str(exc)) from exc
    return session, window, distinct_id, events


class RecordingIngest:
    """Turns the items of one `/s/` request into stored chunks, one per (session, window)."""

    def __init__(self, blobs: BlobStore, *, max_decoded: int) -> None:
        self._blobs = blobs
        self._max_decoded = max_decoded
        self._zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL)

    def group(self, items: list[Any]) -> tuple[dict[tuple[str, str], _Group], list[dict[str, Any]]]:
        """Valid items grouped by (session, window), in order; and the rejected ones."""
        groups: dict[tuple[str, str], _Group] = {}
        rejected: list[dict[str, Any]] = []
        for index, raw in enumerate(items):
            try:
                session, window, distinct_id, events = _item(raw, self._max_decoded)
            except EventRejected as exc:
                rejected.append({"index": index, "error": exc.code, "detail": exc.detail})
                continue
            if not events:
                continue
            group = groups.setdefault((session, window), _Group(distinct_id, []))
            group.events.extend(events)
        return groups, rejected

    def store(
        self, project_id: int, groups: dict[tuple[str, str], _Group], now_us: int
    ) -> list[RecordingChunk]:
        """Write each group as a zstd blob (durable on return) and describe it."""
        chunks: list[RecordingChunk] = []
        for (session, window), group in groups.items():
            summary = summarize(group.events)
            key = (
                f"recordings/{project_id}/{session}/{window}/"
                f"{summary.first_ts_ms:013d}-{uuid.uuid4().hex}.json.zst"
            )
            data = self._zstd.compress(orjson.dumps(group.events))
            self._blobs.put(key, data)
            chunks.append(
                RecordingChunk(
                    project_id=project_id,
                    session_id=session,
                    window_id=window,
                    distinct_id=group.distinct_id,
                    blob_key=key,
                    first_ts_us=summary.first_ts_ms * 1000,
                    last_ts_us=summary.last_ts_ms * 1000,
                    event_count=summary.count,
                    bytes=len(data),
                    has_full_snapshot=summary.has_full_snapshot,
                    clicks=summary.clicks,
                    console_errors=summary.console_errors,
                    href=summary.href,
                    received_at_us=now_us,
                )
            )
        return chunks
