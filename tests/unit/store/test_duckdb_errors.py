"""A write DuckDB refuses says why, and leaves the store as it was."""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import pytest

from userlens.model.event import CapturedEvent, EventFilter
from userlens.model.recording import RecordingChunk
from userlens.store.duckdb import DuckDBEventStore

T0 = 1_790_000_000_000_000


def _event(event_uuid: str, distinct_id: str = "d") -> CapturedEvent:
    return CapturedEvent(
        project_id=1,
        uuid=event_uuid,
        event="e",
        distinct_id=distinct_id,
        timestamp_us=T0,
        received_at_us=T0,
        properties_json="{}",
        set_props={"plan": "pro"},
    )


def _chunk(blob_key: str, session_id: str | None) -> RecordingChunk:
    return RecordingChunk(
        project_id=1,
        session_id=session_id,  # type: ignore[arg-type]
        window_id="w",
        distinct_id="d",
        blob_key=blob_key,
        first_ts_us=T0,
        last_ts_us=T0,
        event_count=1,
        bytes=10,
        has_full_snapshot=True,
        clicks=0,
        console_errors=0,
        href=None,
        received_at_us=T0,
    )


def test_a_refused_event_raises_its_own_error_and_changes_nothing(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    try:
        good = _event(str(uuid.uuid4()), "alice")
        # An id the events table cannot hold (capture never lets one through): the error the
        # log shows must be DuckDB's reason, not "the transaction is aborted".
        with pytest.raises(duckdb.ConversionException, match="not-a-uuid"):
            store.write([good, _event("not-a-uuid", "bob")])
        assert store.count_events(1) == 0
        assert store.person(1, "alice") is None  # the person made on the way was rolled back
        store.write([good])
        assert [e.uuid for e in store.events(1, EventFilter(), limit=10).events] == [good.uuid]
        assert store.person(1, "alice") is not None
    finally:
        store.close()


def test_a_refused_recording_chunk_raises_its_own_error(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    try:
        # A chunk without a session (capture never lets one through).
        with pytest.raises(duckdb.ConstraintException, match="session_id"):
            store.write([], [_chunk("recordings/1/s/w/bad", None)])
        store.write([], [_chunk("recordings/1/s/w/good", "s")])
    finally:
        store.close()
