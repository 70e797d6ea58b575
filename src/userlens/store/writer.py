"""The single writer: a bounded queue of event batches, committed in groups by one thread.

Request handlers `submit` their events and wait; the thread takes everything queued (up to a
batch cap), commits it in one transaction and only then wakes the handlers, so a 200 always
means the events are durable. A full queue refuses new work at once (`Backpressure`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Sequence

from userlens.errors import Backpressure, StoreUnavailable
from userlens.model.event import CapturedEvent
from userlens.store.events import EventStore

log = logging.getLogger(__name__)


class _Waiter:
    """Wakes whoever submitted a batch, from the writer thread, in the submitter's loop."""

    __slots__ = ("count", "future", "loop", "sync_done", "sync_error")

    def __init__(self, count: int, loop: asyncio.AbstractEventLoop | None) -> None:
        self.count = count
        self.loop = loop
        self.future: asyncio.Future[None] | None = loop.create_future() if loop else None
        self.sync_done = threading.Event()
        self.sync_error: BaseException | None = None

    def resolve(self, error: BaseException | None) -> None:
        if self.loop is not None and self.future is not None:
            self.loop.call_soon_threadsafe(_settle, self.future, error)
        else:
            self.sync_error = error
            self.sync_done.set()


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class BatchWriter:
    """Group-commits submitted events into an `EventStore` from one background thread."""

    def __init__(
        self,
        store: EventStore,
        *,
        max_queued: int = 200_000,
        max_batch: int = 20_000,
        retry_after_s: int = 2,
    ) -> None:
        self._store = store
        self._max_queued = max_queued
        self._max_batch = max_batch
        self._retry_after = retry_after_s
        self._cond = threading.Condition()
        self._pending: collections.deque[tuple[list[CapturedEvent], _Waiter]] = collections.deque()
        self._queued = 0
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="userlens-writer", daemon=True)
        self.committed_batches = 0
        self.committed_events = 0

    @property
    def queued(self) -> int:
        return self._queued

    def start(self) -> None:
        self._thread.start()

    def _enqueue(self, events: Sequence[CapturedEvent], waiter: _Waiter) -> None:
        with self._cond:
            if self._closing:
                raise StoreUnavailable("the server is shutting down")
            if self._queued and self._queued + len(events) > self._max_queued:
                raise Backpressure(self._retry_after)
            self._pending.append((list(events), waiter))
            self._queued += len(events)
            self._cond.notify()

    async def submit(self, events: Sequence[CapturedEvent]) -> None:
        """Return once `events` are committed; raise `Backpressure` or `StoreUnavailable`."""
        waiter = _Waiter(len(events), asyncio.get_running_loop())
        self._enqueue(events, waiter)
        assert waiter.future is not None
        # Shield: if the client goes away the commit still happens and the queue stays right.
        await asyncio.shield(waiter.future)

    def submit_sync(self, events: Sequence[CapturedEvent]) -> None:
        """Blocking `submit` for callers without an event loop (CLI, tests)."""
        waiter = _Waiter(len(events), None)
        self._enqueue(events, waiter)
        waiter.sync_done.wait()
        if waiter.sync_error is not None:
            raise waiter.sync_error

    def _take(self) -> list[tuple[list[CapturedEvent], _Waiter]] | None:
        with self._cond:
            while not self._pending and not self._closing:
                self._cond.wait()
            if not self._pending:
                return None
            taken: list[tuple[list[CapturedEvent], _Waiter]] = []
            size = 0
            while self._pending and (
                not taken or size + len(self._pending[0][0]) <= self._max_batch
            ):
                item = self._pending.popleft()
                taken.append(item)
                size += len(item[0])
            return taken

    def _run(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            events = [e for batch, _ in taken for e in batch]
            error: BaseException | None = None
            try:
                self._store.write(events)
            except Exception as exc:
                log.exception("commit of %d events failed", len(events))
                error = StoreUnavailable(f"the event store could not commit: {exc}")
            else:
                self.committed_batches += 1
                self.committed_events += len(events)
            with self._cond:
                self._queued -= len(events)
            for _, waiter in taken:
                waiter.resolve(error)

    def close(self, timeout: float = 60.0) -> None:
        """Stop taking work, commit everything already queued, then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
