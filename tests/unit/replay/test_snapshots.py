"""rrweb snapshot data: `cv` decoding, window and session assembly, chunk summaries."""

from __future__ import annotations

import copy
import gzip
import zlib
from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from userlens.replay.snapshots import (
    ChunkSummary,
    SnapshotError,
    assemble_session,
    assemble_window,
    decode_event,
    decode_snapshot_data,
    summarize,
)

MAX = 1 << 20
TS = 1_795_625_323_578

FULL_DATA: dict[str, Any] = {
    "node": {
        "type": 0,
        "id": 1,
        "childNodes": [
            {"type": 1, "name": "html", "id": 2},
            {"type": 2, "tagName": "p", "attributes": {"class": "é ü"}, "childNodes": [], "id": 3},
        ],
    },
    "initialOffset": {"left": 0, "top": 0},
}
MUTATION: dict[str, Any] = {
    "adds": [{"parentId": 3, "nextId": None, "node": {"type": 3, "textContent": "hi ✓", "id": 4}}],
    "removes": [{"parentId": 2, "id": 9}],
    "texts": [{"id": 4, "value": "bye"}],
    "attributes": [{"id": 3, "attributes": {"style": "color: red"}}],
}
STYLE_RULE: dict[str, Any] = {
    "adds": [{"rule": "p { color: blue }", "index": 0}],
    "removes": [{"index": 2}],
}


def packed(value: Any) -> str:
    """Compress like posthog-js: gzip the JSON, carry the bytes as a latin-1 string."""
    return gzip.compress(orjson.dumps(value)).decode("latin-1")


def ev(kind: int, ts: float, data: Any = None, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "timestamp": ts, "data": {} if data is None else data, **extra}


def meta(
    ts: float, href: str = "https://x.test/", width: int = 780, height: int = 437
) -> dict[str, Any]:
    return ev(4, ts, {"href": href, "width": width, "height": height})


def bomb(size: int) -> str:
    """A small gzip member that inflates to `size` zero bytes, built without holding them."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 16)
    parts = [comp.compress(block) for _ in range(size // len(block))]
    parts.append(comp.flush())
    return b"".join(parts).decode("latin-1")


# --- decode_event ---------------------------------------------------------------------------


def test_full_snapshot_data_is_decoded_and_cv_removed() -> None:
    event = ev(2, TS, packed(FULL_DATA), cv="2024-10")
    original = copy.deepcopy(event)
    assert decode_event(event, max_bytes=MAX) == ev(2, TS, FULL_DATA)
    assert event == original  # the input is not touched


def test_mutation_fields_are_decoded() -> None:
    data = {"source": 0, **{k: packed(v) for k, v in MUTATION.items()}}
    out = decode_event(ev(3, TS, data, cv="2024-10"), max_bytes=MAX)
    assert out == ev(3, TS, {"source": 0, **MUTATION})


def test_stylesheet_rule_fields_are_decoded() -> None:
    data = {"source": 8, "id": 5, **{k: packed(v) for k, v in STYLE_RULE.items()}}
    out = decode_event(ev(3, TS, data, cv="2024-10"), max_bytes=MAX)
    assert out == ev(3, TS, {"source": 8, "id": 5, **STYLE_RULE})


def test_fields_already_json_or_not_compressed_are_left_alone() -> None:
    data = {"source": 0, "adds": MUTATION["adds"], "texts": packed(MUTATION["texts"])}
    out = decode_event(ev(3, TS, data, cv="2024-10"), max_bytes=MAX)
    assert out["data"] == {"source": 0, "adds": MUTATION["adds"], "texts": MUTATION["texts"]}
    # Only sources 0 and 8 are compressed: strings elsewhere stay strings.
    other = ev(3, TS, {"source": 5, "text": "not gzip"}, cv="2024-10")
    assert decode_event(other, max_bytes=MAX) == ev(3, TS, {"source": 5, "text": "not gzip"})
    assert decode_event(ev(2, TS, FULL_DATA, cv="2024-10"), max_bytes=MAX) == ev(2, TS, FULL_DATA)


@pytest.mark.parametrize(
    "event",
    [
        meta(TS),
        ev(2, TS, FULL_DATA),
        ev(3, TS + 0.5, {"source": 0, "adds": "a plain string", "removes": []}),
        ev(6, TS, {"plugin": "rrweb/console@1", "payload": {"level": "log"}}),
        {"type": 0, "timestamp": TS},
    ],
)
def test_events_without_cv_pass_through_unchanged(event: dict[str, Any]) -> None:
    out = decode_event(event, max_bytes=MAX)
    assert out == event
    assert out is not event


@pytest.mark.parametrize(
    ("event", "code"),
    [
        ("not an event", "invalid_snapshot_data"),
        ({"timestamp": TS}, "invalid_snapshot_data"),
        ({"type": 7, "timestamp": TS}, "invalid_snapshot_data"),
        ({"type": "2", "timestamp": TS}, "invalid_snapshot_data"),
        ({"type": True, "timestamp": TS}, "invalid_snapshot_data"),
        ({"type": 2}, "invalid_snapshot_data"),
        ({"type": 2, "timestamp": "1795625323578"}, "invalid_snapshot_data"),
        ({"type": 2, "timestamp": float("nan")}, "invalid_snapshot_data"),
        ({"type": 2, "timestamp": False}, "invalid_snapshot_data"),
        (ev(2, TS, "snapshot ✓", cv="2024-10"), "invalid_cv_data"),
        (ev(2, TS, "not gzip at all", cv="2024-10"), "invalid_cv_data"),
        (ev(2, TS, "", cv="2024-10"), "invalid_cv_data"),
        (ev(2, TS, gzip.compress(b"{not json").decode("latin-1"), cv="2024-10"), "invalid_cv_data"),
        (ev(2, TS, packed(FULL_DATA)[:-6], cv="2024-10"), "invalid_cv_data"),
        (ev(2, TS, packed(FULL_DATA) + "junk", cv="2024-10"), "invalid_cv_data"),
        (ev(3, TS, {"source": 8, "removes": "\x1f\x8bnope"}, cv="2024-10"), "invalid_cv_data"),
        (ev(2, TS, packed(FULL_DATA), cv="2099-01"), "invalid_cv_data"),
    ],
)
def test_bad_events_are_refused_with_a_code(event: Any, code: str) -> None:
    with pytest.raises(SnapshotError) as info:
        decode_event(event, max_bytes=MAX)
    assert info.value.code == code
    assert str(info.value)


def test_a_gzip_bomb_is_stopped_at_max_bytes() -> None:
    compressed = bomb(64 << 20)  # 64 MiB of zeros in ~64 KiB
    assert len(compressed) < 100_000
    with pytest.raises(SnapshotError) as info:
        decode_event(ev(2, TS, compressed, cv="2024-10"), max_bytes=MAX)
    assert info.value.code == "invalid_cv_data"


def test_max_bytes_is_inclusive() -> None:
    body = orjson.dumps(FULL_DATA)
    event = ev(2, TS, gzip.compress(body).decode("latin-1"), cv="2024-10")
    assert decode_event(event, max_bytes=len(body))["data"] == FULL_DATA
    with pytest.raises(SnapshotError, match="inflates"):
        decode_event(event, max_bytes=len(body) - 1)


def test_concatenated_gzip_members_are_read_whole() -> None:
    body = orjson.dumps(FULL_DATA)
    two = (gzip.compress(body[:10]) + gzip.compress(body[10:])).decode("latin-1")
    assert decode_event(ev(2, TS, two, cv="2024-10"), max_bytes=MAX)["data"] == FULL_DATA


# --- decode_snapshot_data -------------------------------------------------------------------


def test_snapshot_data_list_and_single_event() -> None:
    events = [meta(TS), ev(2, TS + 5, packed(FULL_DATA), cv="2024-10")]
    assert decode_snapshot_data(events, max_bytes=MAX) == [meta(TS), ev(2, TS + 5, FULL_DATA)]
    assert decode_snapshot_data(meta(TS), max_bytes=MAX) == [meta(TS)]
    assert decode_snapshot_data([], max_bytes=MAX) == []


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ('[{"type": 4}]', "invalid_snapshot_data"),
        (None, "invalid_snapshot_data"),
        (42, "invalid_snapshot_data"),
        ([meta(TS), "event"], "invalid_snapshot_data"),
        ([meta(TS), ev(2, TS, "x", cv="2024-10")], "invalid_cv_data"),
    ],
)
def test_bad_snapshot_data_is_refused(data: Any, code: str) -> None:
    with pytest.raises(SnapshotError) as info:
        decode_snapshot_data(data, max_bytes=MAX)
    assert info.value.code == code


# --- assemble_window ------------------------------------------------------------------------


def test_window_is_sorted_stably_and_deduplicated() -> None:
    m, full = meta(100), ev(2, 100, {"n": 1})
    a, b, c = ev(3, 200, {"n": "a"}), ev(3, 200, {"n": "b"}), ev(3, 150, {"n": "c"})
    # Chunks overlap and arrive out of order; equal timestamps keep their arrival order.
    chunk1, chunk2 = [c, b, m], [copy.deepcopy(a), full, a, copy.deepcopy(full)]
    out = assemble_window([*chunk1, *chunk2])
    assert out == [m, full, c, b, a]
    assert out[-1] is not a  # the first of two duplicates is the one kept


def test_int_and_float_timestamps_are_not_duplicates() -> None:
    assert assemble_window([meta(1), ev(2, 1), ev(2, 1.0)]) == [meta(1), ev(2, 1), ev(2, 1.0)]


def test_only_the_last_meta_before_the_first_full_snapshot_is_kept() -> None:
    events = [
        ev(3, 10, {"source": 1}),
        meta(20, "https://x.test/a"),
        ev(0, 25),
        meta(30, "https://x.test/b"),
        ev(6, 35, {"plugin": "p"}),
        ev(2, 40),
        ev(3, 50, {"source": 1}),
        meta(60, "https://x.test/c"),
        ev(2, 70),
    ]
    assert assemble_window(events) == [events[3], events[5], *events[6:]]


def test_a_meta_is_synthesized_when_none_precedes_the_full_snapshot() -> None:
    assert assemble_window([ev(3, 5), ev(2, 10), ev(3, 20)]) == [
        {"type": 4, "timestamp": 10, "data": {"href": "", "width": 1280, "height": 800}},
        ev(2, 10),
        ev(3, 20),
    ]


def test_a_synthesized_meta_copies_the_viewport_of_the_meta_after_it() -> None:
    # Same timestamp, but the Meta arrived (and so sorts) after the FullSnapshot.
    later = meta(10, "https://x.test/a", 640, 480)
    events = [ev(2, 10), later, meta(90, "https://x.test/z", 1, 1)]
    assert assemble_window(events) == [
        {
            "type": 4,
            "timestamp": 10,
            "data": {"href": "https://x.test/a", "width": 640, "height": 480},
        },
        *events,
    ]


def test_a_malformed_meta_gives_defaults_to_the_synthesized_one() -> None:
    out = assemble_window([ev(2, 10), ev(4, 11, {"href": 3, "width": "wide", "height": True})])
    assert out[0]["data"] == {"href": "", "width": 1280, "height": 800}
    assert assemble_window([ev(2, 10), ev(4, 11, "junk")])[0]["data"]["width"] == 1280


def test_a_window_without_full_snapshot_is_empty() -> None:
    assert assemble_window([meta(1), ev(3, 2), ev(6, 3)]) == []
    assert assemble_window([]) == []


# --- assemble_session -----------------------------------------------------------------------


def test_session_tags_windows_and_merges_by_time_then_window_order() -> None:
    w1 = [meta(10), ev(2, 10), ev(3, 30, {"n": 1}), ev(3, 50)]
    w2 = [ev(2, 20), ev(3, 30, {"n": 2}), ev(3, 40)]
    out = assemble_session({"w1": w1, "w2": w2, "empty": [ev(3, 1)]})
    assert [(e["timestamp"], e["windowId"], e["type"]) for e in out] == [
        (10, "w1", 4),
        (10, "w1", 2),
        (20, "w2", 4),
        (20, "w2", 2),
        (30, "w1", 3),
        (30, "w2", 3),
        (40, "w2", 3),
        (50, "w1", 3),
    ]
    assert all("windowId" not in e for e in w1 + w2)  # tagged copies, not the inputs
    out = assemble_session({"w2": w2, "w1": w1})
    assert [e["windowId"] for e in out if e["timestamp"] == 30] == ["w2", "w1"]


# --- summarize ------------------------------------------------------------------------------


def test_summary_of_a_chunk() -> None:
    events = [
        ev(3, 105.5, {"source": 2, "type": 2, "id": 4}),
        meta(100, "https://x.test/first"),
        ev(2, 101),
        ev(3, 106, {"source": 2, "type": 1}),
        ev(3, 107, {"source": 2, "type": 2}),
        ev(6, 108, {"plugin": "rrweb/console@1", "payload": {"level": "error"}}),
        ev(6, 109, {"plugin": "rrweb/console@1", "payload": {"level": "warn"}}),
        ev(6, 110, {"plugin": "other", "payload": {"level": "error"}}),
        meta(111.2, "https://x.test/second"),
    ]
    assert summarize(events) == ChunkSummary(
        first_ts_ms=100,
        last_ts_ms=112,
        count=9,
        has_full_snapshot=True,
        clicks=2,
        console_errors=1,
        href="https://x.test/first",
    )


def test_summary_without_full_snapshot_or_meta() -> None:
    summary = summarize([ev(3, 7, "odd"), ev(6, 5, None)])
    assert (summary.first_ts_ms, summary.last_ts_ms, summary.count) == (5, 7, 2)
    assert not summary.has_full_snapshot
    assert (summary.clicks, summary.console_errors, summary.href) == (0, 0, None)
    with pytest.raises(SnapshotError):
        summarize([])


# --- properties against a reference ---------------------------------------------------------


def reference_window(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """assemble_window spelled out the slow, obvious way."""
    ordered = sorted(events, key=lambda e: e["timestamp"])
    unique: list[dict[str, Any]] = []
    for event in ordered:
        if event not in unique:
            unique.append(event)
    fulls = [i for i, e in enumerate(unique) if e["type"] == 2]
    if not fulls:
        return []
    before, after = unique[: fulls[0]], unique[fulls[0] :]
    metas_before = [e for e in before if e["type"] == 4]
    if metas_before:
        return [metas_before[-1], *after]
    metas_after = [e for e in after if e["type"] == 4]
    data = metas_after[0]["data"] if metas_after else {}
    synthesized = {
        "type": 4,
        "timestamp": after[0]["timestamp"],
        "data": {
            "href": data.get("href", ""),
            "width": data.get("width", 1280),
            "height": data.get("height", 800),
        },
    }
    return [synthesized, *after]


META_DATA = st.fixed_dictionaries(
    {},
    optional={
        "href": st.sampled_from(["https://x.test/a", "https://x.test/b"]),
        "width": st.sampled_from([320, 1024]),
        "height": st.sampled_from([480, 768]),
    },
)
EVENTS = st.one_of(
    st.fixed_dictionaries({"type": st.just(4), "timestamp": st.integers(0, 6), "data": META_DATA}),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from([2, 3, 6]),
            "timestamp": st.integers(0, 6),
            "data": st.fixed_dictionaries({"n": st.integers(0, 2)}),
        }
    ),
)


@st.composite
def windows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Event lists where exact duplicates (as distinct objects) and ties are common."""
    pool = draw(st.lists(EVENTS, min_size=1, max_size=8))
    picks = draw(st.lists(st.sampled_from(pool), max_size=30))
    return [copy.deepcopy(e) for e in picks]


@settings(max_examples=400, deadline=None, database=None)
@given(events=windows())
def test_assemble_window_matches_the_reference(events: list[dict[str, Any]]) -> None:
    before = copy.deepcopy(events)
    out = assemble_window(events)
    assert out == reference_window(before)
    assert events == before
    if out:
        assert out[0]["type"] == 4
        assert out[1]["type"] == 2
        assert [e["timestamp"] for e in out] == sorted(e["timestamp"] for e in out)


@settings(max_examples=200, deadline=None, database=None)
@given(session=st.dictionaries(st.sampled_from(["a", "b", "c"]), windows(), max_size=3))
def test_assemble_session_matches_the_reference(session: dict[str, list[dict[str, Any]]]) -> None:
    rank = {window_id: i for i, window_id in enumerate(session)}
    expected = [
        {**e, "windowId": window_id}
        for window_id, events in session.items()
        for e in reference_window(events)
    ]
    expected.sort(key=lambda e: (e["timestamp"], rank[e["windowId"]]))
    assert assemble_session(session) == expected
