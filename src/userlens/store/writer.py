"""The ingestion pipeline: log first, acknowledge, then load into the event store in bulk.

    submit() ──> appender thread: encode, append a group to the write-ahead log in one
                 synchronous write
                   └─> wakes the submitters (their 200 is now safe) and queues the events
             ──> loader thread: takes everything queued (up to a batch cap; a smaller batch
                 first waits up to `LINGER_S` to grow, unless someone flushes), writes it to the
                 store in one transaction (in halves if it does not fit in the store's memory),
                 then moves the log checkpoint forward; after a quiet second it lets the
                 store do housekeeping (`EventStore.idle`)

Events not yet in the store are bounded by count and by size, which gives back-pressure: past
either bound `submit` raises `Backpressure` at once. The size bound keeps memory in check when
events are large (properties of up to a megabyte each), where a count alone would not.
`flush` waits until everything submitted so far is queryable.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import orjson

from userlens.errors import Backpressure, StoreOutOfMemory, StoreUnavailable, first_line
from userlens.model.event import CapturedEvent
from userlens.model.recording import RecordingChunk
from userlens.store.events import EventStore
from userlens.store.wal import Position, SegmentLog

log = logging.getLogger(__name__)

RETRY_MIN_S = 0.2
RETRY_MAX_S = 5.0
# Failures of one batch in a row after which the loader counts as failing (a health check
# says so); a passing conflict is over by the first retry.
FAILING_AFTER = 3
LINGER_S = 0.05  # how long a batch smaller than the cap waits to grow before loading
IDLE_AFTER_S = 1.0  # nothing to load for this long: let the store do its housekeeping


class _Idle:
    """What the loader's wait returns when nothing came."""


IDLE = _Idle()


class _Waiter:
    """Whoever submitted a batch: a future in their event loop, or a thread event (`_wake`)."""

    __slots__ = ("future", "loop", "sync_done", "sync_error")

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] | None = loop.create_future() if loop else None
        # Only blocking submitters wait on a thread event (an asyncio caller awaits `future`).
        self.sync_done: threading.Event | None = None if loop else threading.Event()
        self.sync_error: BaseException | None = None


def _wake(waiters: Sequence[_Waiter], error: BaseException | None) -> None:
    """Settle a group's waiters: one call into each event loop for all of its requests (each
    call wakes the loop), and each blocking submitter's thread event."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for waiter in waiters:
        if waiter.loop is not None and waiter.future is not None:
            by_loop.setdefault(waiter.loop, []).append(waiter.future)
        elif waiter.sync_done is not None:
            waiter.sync_error = error
            waiter.sync_done.set()
    for loop, futures in by_loop.items():
        loop.call_soon_threadsafe(_settle, futures, error)


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():  # its request was cancelled: the events are logged all the same
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


EVENT_OVERHEAD_BYTES = 256  # roughly what an event holds besides its properties


@dataclasses.dataclass(frozen=True, slots=True)
class LogRecord:
    """What one request logged: its events and its recording chunks.

    `size` and `nbytes` are what the queue counts it as, worked out once: a recording chunk
    counts like an event, and by size each event's properties (as JSON) and a fixed overhead.
    """

    events: Sequence[CapturedEvent]
    chunks: Sequence[RecordingChunk] = ()
    size: int = dataclasses.field(init=False, compare=False)
    nbytes: int = dataclasses.field(init=False, compare=False)

    def __post_init__(self) -> None:
        size = len(self.events) + len(self.chunks)
        properties = sum(len(e.properties_json) for e in self.events)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "nbytes", properties + EVENT_OVERHEAD_BYTES * size)


def encode(record: LogRecord) -> bytes:
    return orjson.dumps({"e": list(record.events), "c": list(record.chunks)})


def decode(payload: bytes) -> LogRecord:
    raw: dict[str, list[dict[str, Any]]] = orjson.loads(payload)
    return LogRecord(
        events=[CapturedEvent(**row) for row in raw["e"]],
        chunks=[RecordingChunk(**row) for row in raw["c"]],
    )


# The most loaded in one transaction, by `LogRecord.nbytes`. Typical events come nowhere near
# it (10,000 events of 1 kB are 12 MB): it only splits batches of large events, which DuckDB
# would otherwise have to hold whole within its memory limit.
MAX_BATCH_BYTES = 32 * 1024 * 1024


def write_in_parts(
    store: EventStore, events: Sequence[CapturedEvent], chunks: Sequence[RecordingChunk] = ()
) -> None:
    """Write events and chunks; what does not fit in the store's memory goes in halves, and
    their halves, as often as it takes.

    Halves are written in order, so persons end as if the whole had been written at once. A
    half that is committed before a later one fails is not lost either way: the caller writes
    the whole again, and the store keeps each event once.
    """
    try:
        store.write(events, chunks)
    except StoreOutOfMemory as exc:
        if len(events) < 2 and len(chunks) < 2:
            raise
        log.warning("%s; loading them in two parts", exc)
        half, half_chunks = len(events) // 2, len(chunks) // 2
        write_in_parts(store, events[:half], chunks[:half_chunks])
        write_in_parts(store, events[half:], chunks[half_chunks:])


def recover(
    store: EventStore, wal: SegmentLog, *, batch: int = 20_000, batch_bytes: int = MAX_BATCH_BYTES
) -> int:
    """Load every logged event after the checkpoint into the store; return how many.

    Events are loaded in transactions of up to `batch` events or `batch_bytes` (as
    `LogRecord.nbytes` counts them), so that a log of large events does not have to fit in
    memory at once.
    """
    pending: list[CapturedEvent] = []
    chunks: list[RecordingChunk] = []
    pending_bytes = 0
    last: Position | None = None
    loaded = 0
    for position, payload in wal.read_after(wal.read_checkpoint()):
        record = decode(payload)
        pending.extend(record.events)
        chunks.extend(record.chunks)
        pending_bytes += record.nbytes
        last = position
        if len(pending) + len(chunks) >= batch or pending_bytes >= batch_bytes:
            write_in_parts(store, pending, chunks)
            wal.write_checkpoint(last)
            loaded += len(pending)
            pending, chunks, pending_bytes = [], [], 0
    if pending or chunks:
        write_in_parts(store, pending, chunks)
        loaded += len(pending)
    if last is not None:
        wal.write_checkpoint(last)
        wal.drop_before(last)
    return loaded


class BatchWriter:
    """Acknowledges events once logged and loads them into an `EventStore` in bulk."""

    def __init__(
        self,
        store: EventStore,
        wal: SegmentLog,
        *,
        max_queued: int = 200_000,
        max_queued_bytes: int = 256 * 1024 * 1024,
        max_batch: int = 20_000,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        retry_after_s: int = 2,
        idle_after_s: float = IDLE_AFTER_S,
        linger_s: float = LINGER_S,
    ) -> None:
        self._store = store
        self._wal = wal
        self._max_queued = max_queued
        self._max_queued_bytes = max_queued_bytes
        self._max_batch = max_batch
        self._max_batch_bytes = max_batch_bytes
        self._retry_after = retry_after_s
        self._idle_after_s = idle_after_s
        self._linger_s = linger_s
        self._loadable = 0  # logged, waiting for the loader (`_to_load`'s size)
        self._flushing = 0  # callers of `flush` waiting
        self._cond = threading.Condition()
        self._to_log: collections.deque[tuple[LogRecord, _Waiter]] = collections.deque()
        self._to_load: collections.deque[tuple[LogRecord, Position]] = collections.deque()
        self._queued = 0  # submitted, not yet in the store
        self._queued_bytes = 0  # their size (`LogRecord.nbytes`)
        self._submitted = 0
        self._loaded = 0
        self._closing = False
        self._appender_done = False
        self._wal_lock = threading.Lock()  # appends and rotations of the log
        self._appender = threading.Thread(target=self._append_loop, name="userlens-wal")
        self._loader = threading.Thread(target=self._load_loop, name="userlens-loader")
        self.committed_batches = 0
        self.store_failures = 0
        self._failures_in_a_row = 0
        self._last_failure = ""

    @property
    def failing(self) -> str | None:
        """Why loading is failing, when the batch in hand has failed `FAILING_AFTER` times in a
        row; None while loads succeed (or fail only now and then)."""
        failures = self._failures_in_a_row
        if failures < FAILING_AFTER:
            return None
        return (
            f"loading into the event store failed {failures} times in a row: {self._last_failure}"
        )

    @property
    def queued(self) -> int:
        """Events acknowledged or in flight that are not yet in the store."""
        return self._queued

    def start(self) -> None:
        self._appender.start()
        self._loader.start()

    # -- submitting ------------------------------------------------------------------------

    def _enqueue(self, record: LogRecord, waiter: _Waiter) -> None:
        with self._cond:
            if self._closing:
                raise StoreUnavailable("the server is shutting down")
            # An empty queue takes any record, however large, so that everything can go through.
            if self._queued and (
                self._queued + record.size > self._max_queued
                or self._queued_bytes + record.nbytes > self._max_queued_bytes
            ):
                raise Backpressure(self._retry_after)
            self._to_log.append((record, waiter))
            self._queued += record.size
            self._queued_bytes += record.nbytes
            self._submitted += record.size
            self._cond.notify_all()

    async def submit(
        self, events: Sequence[CapturedEvent], chunks: Sequence[RecordingChunk] = ()
    ) -> None:
        """Return once `events` (and `chunks`) are durable; raise `Backpressure` or
        `StoreUnavailable`."""
        waiter = _Waiter(asyncio.get_running_loop())
        self._enqueue(LogRecord(events, chunks), waiter)
        assert waiter.future is not None
        # Cancelling this wait (the request is abandoned) leaves the record queued: its events
        # are logged and counted all the same.
        await waiter.future

    def submit_sync(self, events: Sequence[CapturedEvent]) -> None:
        """Blocking `submit` for callers without an event loop (CLI, tests)."""
        waiter = _Waiter(None)
        self._enqueue(LogRecord(events), waiter)
        assert waiter.sync_done is not None
        waiter.sync_done.wait()
        if waiter.sync_error is not None:
            raise waiter.sync_error

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every event submitted before this call is in the store."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._submitted
            self._flushing += 1  # the loader stops waiting for a bigger batch
            self._cond.notify_all()
            try:
                while self._loaded < target:
                    left = deadline - time.monotonic()
                    if left <= 0 or (self._appender_done and not self._loader.is_alive()):
                        return False
                    self._cond.wait(left)
            finally:
                self._flushing -= 1
        return True

    def purge_loaded(self, timeout: float = 60.0) -> bool:
        """Delete every log segment whose events are all in the store.

        After a person is deleted their events must not linger in the log either: start a new
        segment, wait until everything logged before it is loaded, then drop the old ones.
        """
        with self._wal_lock:
            closed = self._wal.rotate()
        if not self.flush(timeout):
            return False
        self._wal.drop_before(Position(closed + 1, 0))
        return True

    # -- the appender thread ---------------------------------------------------------------

    def _append_loop(self) -> None:
        while True:
            with self._cond:
                while not self._to_log and not self._closing:
                    self._cond.wait()
                if not self._to_log:
                    self._appender_done = True
                    self._cond.notify_all()
                    return
                taken = list(self._to_log)
                self._to_log.clear()
            self._log_group(taken)

    def _log_group(self, taken: list[tuple[LogRecord, _Waiter]]) -> None:
        try:
            payloads = [encode(record) for record, _ in taken]
            with self._wal_lock:
                positions = self._wal.append_many(payloads)  # durable when it returns
        except Exception as exc:
            log.exception("write-ahead log append failed")
            error = StoreUnavailable(f"the write-ahead log could not be written: {exc}")
            with self._cond:
                # Records that did reach the file are replayed at the next start (deduplicated).
                self._queued -= sum(record.size for record, _ in taken)
                self._queued_bytes -= sum(record.nbytes for record, _ in taken)
                self._submitted -= sum(record.size for record, _ in taken)
                self._cond.notify_all()
            _wake([waiter for _, waiter in taken], error)
            return
        with self._cond:
            for (record, _), position in zip(taken, positions, strict=True):
                self._to_load.append((record, position))
                self._loadable += record.size
            self._cond.notify_all()
        _wake([waiter for _, waiter in taken], None)

    # -- the loader thread -----------------------------------------------------------------

    def _take_load(
        self, idle_after: float | None
    ) -> tuple[list[CapturedEvent], list[RecordingChunk], Position, int, int] | _Idle | None:
        """The next batch to load; None once closed and drained; `IDLE` when nothing came
        for `idle_after` seconds."""
        with self._cond:
            while not self._to_load and not (self._closing and self._appender_done):
                if not self._cond.wait(idle_after) and idle_after is not None:
                    return IDLE
            if not self._to_load:
                return None
            # Let a small batch grow for a moment: each store transaction has a fixed cost,
            # which a trickle of single events would otherwise pay one request at a time.
            deadline = time.monotonic() + self._linger_s
            while self._loadable < self._max_batch and not self._closing and not self._flushing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            events: list[CapturedEvent] = []
            chunks: list[RecordingChunk] = []
            last = self._to_load[0][1]
            size = nbytes = 0
            while self._to_load:
                record = self._to_load[0][0]
                if size and (
                    size + record.size > self._max_batch
                    or nbytes + record.nbytes > self._max_batch_bytes
                ):
                    break
                record, last = self._to_load.popleft()
                events.extend(record.events)
                chunks.extend(record.chunks)
                size += record.size
                nbytes += record.nbytes
            self._loadable -= size
            return events, chunks, last, size, nbytes

    def _load_loop(self) -> None:
        wrote = False  # since the store was last told it is idle
        while True:
            taken = self._take_load(self._idle_after_s if wrote else None)
            if taken is None:
                return
            if isinstance(taken, _Idle):
                self._store_idle()
                wrote = False
                continue
            wrote = True
            events, chunks, last, size, nbytes = taken
            if not self._write_with_retry(events, chunks):
                return
            self._wal.write_checkpoint(last)
            self._wal.drop_before(last)
            self.committed_batches += 1
            with self._cond:
                self._queued -= size
                self._queued_bytes -= nbytes
                self._loaded += size
                self._cond.notify_all()

    def _store_idle(self) -> None:
        try:
            self._store.idle()
        except Exception:  # housekeeping only: the next idle moment tries again
            log.exception("event store housekeeping failed")

    def _write_with_retry(self, events: list[CapturedEvent], chunks: list[RecordingChunk]) -> bool:
        """Write until it works; the events are safe in the log meanwhile. False: gave up."""
        delay = RETRY_MIN_S
        while True:
            try:
                write_in_parts(self._store, events, chunks)
                self._failures_in_a_row = 0
                return True
            except Exception as exc:
                self.store_failures += 1
                self._failures_in_a_row += 1
                self._last_failure = first_line(exc)[:300]
                log.exception("loading %d events into the store failed; retrying", len(events))
                if self._closing:
                    return False  # left in the log for the next start
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    def close(self, timeout: float = 120.0) -> None:
        """Stop taking work, log and load everything already submitted, stop the threads."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for thread in (self._appender, self._loader):
            if thread.is_alive():
                thread.join(timeout)
        self._wal.close()
