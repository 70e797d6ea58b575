"""The write-ahead log: records survive, torn tails are cut, the checkpoint is honoured."""

from __future__ import annotations

import errno
import fcntl
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import orjson
import pytest

from tests.unit.store.support import BatchSizes
from userlens.model.event import CapturedEvent
from userlens.store.duckdb import DuckDBEventStore
from userlens.store.wal import Position, SegmentLog
from userlens.store.writer import LogRecord, decode, encode, recover


def _events(n: int, tag: str) -> list[CapturedEvent]:
    return [
        CapturedEvent(
            project_id=1,
            uuid=str(uuid.uuid4()),
            event=tag,
            distinct_id=f"{tag}{i}",
            timestamp_us=1_790_000_000_000_000 + i,
            received_at_us=1_790_000_000_000_000,
            properties_json=f'{{"i": {i}}}',
            set_props={"k": i} if i % 2 else None,
        )
        for i in range(n)
    ]


def test_records_round_trip_across_segments(tmp_path: Path) -> None:
    wal = SegmentLog(tmp_path, segment_bytes=2_000)
    batches = [_events(5, f"b{i}") for i in range(10)]
    for batch in batches:
        wal.append(encode(LogRecord(batch)))
    wal.sync()
    wal.close()
    again = SegmentLog(tmp_path)
    assert len(again.segments()) > 1
    read = [decode(payload).events for _, payload in again.read_after(Position(0, 0))]
    again.close()
    assert read == batches


def test_a_group_appended_at_once_reads_back_record_by_record(tmp_path: Path) -> None:
    wal = SegmentLog(tmp_path, segment_bytes=3_000)
    first = [_events(3, f"a{i}") for i in range(4)]
    second = [_events(2, f"b{i}") for i in range(6)]
    positions = wal.append_many([encode(LogRecord(b)) for b in first])
    positions += wal.append_many([encode(LogRecord(b)) for b in second])
    wal.sync()
    wal.close()
    again = SegmentLog(tmp_path)
    read = list(again.read_after(Position(0, 0)))
    again.close()
    # Each record's position is where the reader finds its end, across segment changes.
    assert [position for position, _ in read] == positions
    assert [decode(payload).events for _, payload in read] == first + second
    assert len({p.segment for p in positions}) > 1
    # Reading after any of those positions yields exactly the records that follow it.
    middle = positions[5]
    reopened = SegmentLog(tmp_path)
    after = [decode(p).events for _, p in reopened.read_after(middle)]
    reopened.close()
    assert after == (first + second)[6:]


def test_torn_tail_is_cut_and_earlier_records_kept(tmp_path: Path) -> None:
    wal = SegmentLog(tmp_path)
    good = _events(3, "good")
    wal.append(encode(LogRecord(good)))
    wal.sync()
    wal.close()
    [segment] = tmp_path.glob("*.wal")
    whole = segment.stat().st_size
    with segment.open("ab") as handle:  # a crash in the middle of the next record
        handle.write(b"\x40\x00\x00\x00\x01\x02\x03\x04partial")
    reopened = SegmentLog(tmp_path)
    assert segment.stat().st_size == whole
    assert [decode(p).events for _, p in reopened.read_after(Position(0, 0))] == [good]
    # Appending after the repair yields readable records again.
    more = _events(2, "more")
    reopened.append(encode(LogRecord(more)))
    reopened.sync()
    assert [decode(p).events for _, p in reopened.read_after(Position(0, 0))] == [good, more]
    reopened.close()


def _log_after_restart(
    wal: SegmentLog, directory: Path, *, then: list[CapturedEvent]
) -> list[list[CapturedEvent]]:
    """Log `then` once the fault has passed, stop, and read the whole log back as a restart
    would."""
    wal.append(encode(LogRecord(then)))
    wal.sync()
    wal.close()
    reopened = SegmentLog(directory)
    try:
        return [list(decode(p).events) for _, p in reopened.read_after(Position(0, 0))]
    finally:
        reopened.close()


class _FailingFile:
    """Stands in for the segment file when a write fails: `reached(data)` gets to the file,
    then `error` is raised."""

    def __init__(self, real: BinaryIO, reached: Callable[[bytes], bytes], error: OSError) -> None:
        self.real = real
        self._reached = reached
        self._error = error

    def write(self, data: bytes) -> int:
        self.real.write(self._reached(data))
        self.real.flush()
        raise self._error

    def close(self) -> None:
        self.real.close()


def test_a_failed_write_leaves_no_torn_record_before_later_ones(tmp_path: Path) -> None:
    wal = SegmentLog(tmp_path)
    before, lost, after = _events(3, "before"), _events(40, "lost"), _events(2, "after")
    wal.append(encode(LogRecord(before)))
    wal.sync()
    real = wal._file
    # The disk fills up: half the group is written, then the write fails.
    full = OSError(errno.ENOSPC, "No space left on device")
    wal._file = _FailingFile(real, lambda data: data[: len(data) // 2], full)  # type: ignore[assignment]
    with pytest.raises(OSError):
        wal.append_many([encode(LogRecord(lost))])
    # The disk has room again: the next group is logged and must be readable after a restart.
    assert _log_after_restart(wal, tmp_path, then=after) == [before, after]


def test_every_segment_is_written_synchronously(tmp_path: Path) -> None:
    # A group is acknowledged as soon as `append_many` returns, with no fsync after it: the
    # segment must be open for synchronous writes, the first one and each after a rotation.
    wal = SegmentLog(tmp_path, segment_bytes=1_000)
    try:
        for i in range(5):
            flags = fcntl.fcntl(wal._file.fileno(), fcntl.F_GETFL)
            assert flags & os.O_DSYNC == os.O_DSYNC, f"segment {wal._segment} is not O_DSYNC"
            wal.append(encode(LogRecord(_events(10, f"g{i}"))))
        assert len(wal.segments()) > 1
    finally:
        wal.close()


def test_after_a_failed_synchronous_write_later_records_stay_readable(tmp_path: Path) -> None:
    wal = SegmentLog(tmp_path)
    before, lost, after = _events(3, "before"), _events(5, "lost"), _events(2, "after")
    wal.append(encode(LogRecord(before)))
    # The disk fails: the group's bytes reach the file as zeros (the kernel dropped the pages
    # it could not write) and the write fails.
    failed = OSError(errno.EIO, "Input/output error")
    wal._file = _FailingFile(wal._file, lambda data: bytes(len(data)), failed)  # type: ignore[assignment]
    with pytest.raises(OSError):
        wal.append_many([encode(LogRecord(lost))])
    assert _log_after_restart(wal, tmp_path, then=after) == [before, after]


def test_after_a_failed_fsync_later_records_stay_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wal = SegmentLog(tmp_path)
    before, lost, after = _events(3, "before"), _events(5, "lost"), _events(2, "after")
    wal.append(encode(LogRecord(before)))
    wal.sync()
    [segment] = tmp_path.glob("*.wal")
    start = segment.stat().st_size
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        # The kernel could not write the group's pages and dropped them: on disk they are
        # zeros. A later fsync succeeds.
        monkeypatch.setattr(os, "fsync", real_fsync)
        end = segment.stat().st_size
        with segment.open("r+b") as handle:
            handle.seek(start)
            handle.write(bytes(end - start))
        raise OSError(errno.EIO, "Input/output error")

    wal.append(encode(LogRecord(lost)))
    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        wal.sync()
    assert _log_after_restart(wal, tmp_path, then=after) == [before, after]


def test_recover_loads_a_log_of_large_events_a_part_at_a_time(tmp_path: Path) -> None:
    # After a crash the log may hold far more than memory should: a transaction takes up to
    # `batch_bytes` of properties, not everything up to the count of `batch`.
    wal = SegmentLog(tmp_path / "wal")
    records = [_events(2, f"r{i}") for i in range(10)]
    for i, events in enumerate(records):
        for event in events:
            event.properties_json = orjson.dumps({"i": i, "blob": "x" * 100_000}).decode()
        wal.append(encode(LogRecord(events)))
    store = BatchSizes(tmp_path / "events.duckdb")
    try:
        assert recover(store, wal, batch=1_000, batch_bytes=300_000) == 20
        assert len(store.sizes) == 5  # 2 records (400 kB) each, crossing the bound
        assert all(size <= 500_000 for size in store.sizes)
        assert store.count_events(1) == 20
    finally:
        store.close()
        wal.close()


def test_recover_loads_parts_that_do_not_fit_in_duckdbs_memory_limit(tmp_path: Path) -> None:
    # A start-up recovery whose transaction did not fit in DuckDB's memory limit raised, and
    # the server could not start until the limit was raised. It loads such a part in halves.
    wal = SegmentLog(tmp_path / "wal")
    records = [_events(10_000, f"r{r}") for r in range(4)]
    for events in records:
        for event in events:
            event.properties_json = orjson.dumps({"pad": "x" * 2_000}).decode()
        wal.append(encode(LogRecord(events)))
    store = BatchSizes(tmp_path / "events.duckdb", memory_limit="64MB")
    try:
        assert recover(store, wal, batch=10_000) == 40_000
        assert store.count_events(1) == 40_000
        whole = sum(len(e.properties_json) for e in records[0])
        assert min(store.sizes) < whole
        person = store.person(1, "r39999")
        assert person is not None and person.properties == {"k": 9999}
    finally:
        store.close()
        wal.close()


def test_recover_loads_only_what_is_after_the_checkpoint(tmp_path: Path) -> None:
    wal = SegmentLog(tmp_path / "wal")
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    loaded, pending = _events(4, "loaded"), _events(6, "pending")
    store.write(loaded)
    wal.write_checkpoint(wal.append(encode(LogRecord(loaded))))
    wal.append(encode(LogRecord(pending)))
    wal.sync()
    assert recover(store, wal) == len(pending)
    assert store.count_events(1) == len(loaded) + len(pending)
    # Idempotent: a second recovery finds nothing new, and replays never duplicate.
    assert recover(store, wal) == 0
    wal.write_checkpoint(Position(0, 0))
    assert recover(store, wal) == len(loaded) + len(pending)
    assert store.count_events(1) == len(loaded) + len(pending)
    store.close()
    wal.close()
