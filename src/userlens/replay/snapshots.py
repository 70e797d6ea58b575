"""Pure functions over rrweb snapshot data: decode PostHog's `cv` compression, assemble, sum up."""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

CV_2024_10 = "2024-10"
FULL_SNAPSHOT = 2
INCREMENTAL = 3
META = 4
PLUGIN = 6
SOURCE_MUTATION = 0
SOURCE_MOUSE_INTERACTION = 2
SOURCE_STYLESHEET_RULE = 8
MOUSE_CLICK = 2
CONSOLE_PLUGIN = "rrweb/console@1"
DEFAULT_WIDTH = 1280
DEFAULT_HEIGHT = 800

# Which fields of an Incremental event's `data` PostHog gzips, by incremental source.
_CV_FIELDS: dict[int, tuple[str, ...]] = {
    SOURCE_MUTATION: ("adds", "removes", "texts", "attributes"),
    SOURCE_STYLESHEET_RULE: ("adds", "removes"),
}


class SnapshotError(ValueError):
    """Snapshot data that cannot be decoded; `code` is a stable machine-readable name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ChunkSummary:
    """What the recording list needs to know about one chunk of decoded events."""

    first_ts_ms: int
    last_ts_ms: int
    count: int
    has_full_snapshot: bool
    clicks: int
    console_errors: int
    href: str | None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_event(event: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise SnapshotError("invalid_snapshot_data", "an rrweb event must be a JSON object")
    kind = event.get("type")
    if not isinstance(kind, int) or isinstance(kind, bool) or not 0 <= kind <= 6:
        raise SnapshotError("invalid_snapshot_data", f"rrweb event type must be 0-6, got {kind!r}")
    ts = event.get("timestamp")
    if not _is_number(ts) or (isinstance(ts, float) and not math.isfinite(ts)):
        raise SnapshotError("invalid_snapshot_data", f"rrweb timestamp must be ms, got {ts!r}")
    return event


def _gunzip(raw: bytes, max_bytes: int) -> bytes:
    """Decompress one or more gzip members, refusing more than `max_bytes` of output."""
    out = bytearray()
    rest = raw
    while True:
        decomp = zlib.decompressobj(wbits=31)  # gzip only
        try:
            out += decomp.decompress(rest, max_bytes - len(out) + 1)
        except zlib.error as exc:
            raise SnapshotError("invalid_cv_data", f"cv field is not valid gzip: {exc}") from None
        if len(out) > max_bytes:
            raise SnapshotError("invalid_cv_data", f"cv field inflates past {max_bytes} bytes")
        if not decomp.eof:
            raise SnapshotError("invalid_cv_data", "cv field is truncated gzip")
        rest = decomp.unused_data
        if not rest:
            return bytes(out)


def _decode_cv_field(value: Any, max_bytes: int) -> Any:
    """Undo one compressed field: gzip bytes carried as a latin-1 string, holding JSON."""
    if not isinstance(value, str):
        return value  # already plain JSON
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        raise SnapshotError("invalid_cv_data", "cv field is not a latin-1 string") from None
    try:
        return orjson.loads(_gunzip(raw, max_bytes))
    except orjson.JSONDecodeError as exc:
        raise SnapshotError("invalid_cv_data", f"cv field is not JSON: {exc}") from None


def _decode_cv(event: dict[str, Any], max_bytes: int) -> None:
    """Decode, in place, the compressed fields of `event`, a shallow copy owned by the caller."""
    data = event.get("data")
    if event["type"] == FULL_SNAPSHOT:
        event["data"] = _decode_cv_field(data, max_bytes)
    elif event["type"] == INCREMENTAL and isinstance(data, dict):
        source = data.get("source")
        fields = _CV_FIELDS.get(source, ()) if type(source) is int else ()
        if any(name in data for name in fields):
            event["data"] = {
                key: _decode_cv_field(value, max_bytes) if key in fields else value
                for key, value in data.items()
            }


def decode_event(event: Any, *, max_bytes: int) -> dict[str, Any]:
    """Validate one rrweb event and undo PostHog's partial (`cv`) compression.

    `max_bytes` bounds the inflated size of each compressed field. Returns a new dict without
    the `cv` key; the input is left as it was.
    """
    out = dict(_check_event(event))
    if "cv" not in out:
        return out
    cv = out.pop("cv")
    if cv != CV_2024_10:
        raise SnapshotError("invalid_cv_data", f"unknown compression version {cv!r}")
    _decode_cv(out, max_bytes)
    return out


def decode_snapshot_data(data: Any, *, max_bytes: int) -> list[dict[str, Any]]:
    """Decode `$snapshot_data`: a list of rrweb events, or one event on its own."""
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise SnapshotError("invalid_snapshot_data", "$snapshot_data must be a list of events")
    return [decode_event(event, max_bytes=max_bytes) for event in data]


def _canonical(event: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # e.g. an integer past 64 bits
        return json.dumps(event, sort_keys=True, default=repr).encode()


def sorted_unique(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events sorted stably by timestamp, exact duplicates (as JSON) dropped."""
    seen: set[bytes] = set()
    unique: list[dict[str, Any]] = []
    for event in sorted(events, key=lambda e: e["timestamp"]):
        key = _canonical(event)
        if key not in seen:
            seen.add(key)
            unique.append(event)
    return unique


def _synthetic_meta(full: dict[str, Any], model: dict[str, Any] | None) -> dict[str, Any]:
    data = model.get("data") if model is not None else None
    data = data if isinstance(data, dict) else {}
    href, width, height = data.get("href"), data.get("width"), data.get("height")
    return {
        "type": META,
        "timestamp": full["timestamp"],
        "data": {
            "href": href if isinstance(href, str) else "",
            "width": width if _is_number(width) else DEFAULT_WIDTH,
            "height": height if _is_number(height) else DEFAULT_HEIGHT,
        },
    }


def assemble_window(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Make one window's decoded events playable, whatever chunks and order they came in.

    Sorts stably by timestamp, drops exact duplicates, keeps only the last Meta before the
    first FullSnapshot (everything else before it cannot be played) and, when no Meta comes
    before it, puts a synthesized one there, modelled on the first Meta after it if any.
    Returns [] when the window has no FullSnapshot.
    """
    unique = sorted_unique(events)
    first = next((i for i, e in enumerate(unique) if e["type"] == FULL_SNAPSHOT), None)
    if first is None:
        return []
    metas_before = [e for e in unique[:first] if e["type"] == META]
    rest = unique[first:]
    if metas_before:
        meta = metas_before[-1]
    else:
        meta = _synthetic_meta(rest[0], next((e for e in rest if e["type"] == META), None))
    return [meta, *rest]


def assemble_session(windows: Mapping[str, Iterable[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Assemble every window, tag its events with `windowId` and merge them by timestamp.

    Ties keep the windows' order as given, and each window's own order.
    """
    tagged = [
        {**event, "windowId": window_id}
        for window_id, events in windows.items()
        for event in assemble_window(events)
    ]
    return sorted(tagged, key=lambda e: e["timestamp"])


def _is_click(event: dict[str, Any]) -> bool:
    data = event.get("data")
    return (
        event["type"] == INCREMENTAL
        and isinstance(data, dict)
        and data.get("source") == SOURCE_MOUSE_INTERACTION
        and data.get("type") == MOUSE_CLICK
    )


def _is_console_error(event: dict[str, Any]) -> bool:
    data = event.get("data")
    if event["type"] != PLUGIN or not isinstance(data, dict):
        return False
    payload = data.get("payload")
    return (
        data.get("plugin") == CONSOLE_PLUGIN
        and isinstance(payload, dict)
        and payload.get("level") == "error"
    )


def _meta_href(event: dict[str, Any]) -> str | None:
    data = event.get("data")
    href = data.get("href") if event["type"] == META and isinstance(data, dict) else None
    return href if isinstance(href, str) else None


def summarize(events: Sequence[dict[str, Any]]) -> ChunkSummary:
    """Sum up a non-empty list of decoded events, in any order, for the recording list."""
    if not events:
        raise SnapshotError("invalid_snapshot_data", "a chunk needs at least one event")
    stamps = [e["timestamp"] for e in events]
    return ChunkSummary(
        first_ts_ms=math.floor(min(stamps)),
        last_ts_ms=math.ceil(max(stamps)),
        count=len(events),
        has_full_snapshot=any(e["type"] == FULL_SNAPSHOT for e in events),
        clicks=sum(1 for e in events if _is_click(e)),
        console_errors=sum(1 for e in events if _is_console_error(e)),
        href=next((h for e in events if (h := _meta_href(e)) is not None), None),
    )
