"""The single writer: acknowledgement only after commit, back-pressure, failure, drain."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import Env
from tests.unit.store.support import BatchSizes, FailingWrites
from userlens.capture.normalize import uuid7
from userlens.model.event import CapturedEvent, EventFilter
from userlens.store.duckdb import DuckDBEventStore
from userlens.store.wal import SegmentLog
from userlens.store.writer import FAILING_AFTER, BatchWriter
from userlens.web import create_app


def _batch(token: str, n: int, prefix: str) -> dict[str, Any]:
    return {
        "api_key": token,
        "batch": [
            {"event": "e", "distinct_id": f"{prefix}{i}", "uuid": str(uuid.uuid4())}
            for i in range(n)
        ],
    }


def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


@contextlib.contextmanager
def _running(store: DuckDBEventStore, wal_dir: Path, **options: Any) -> Iterator[BatchWriter]:
    """A started writer over `store`, closed (and the store with it) afterwards."""
    writer = BatchWriter(store, SegmentLog(wal_dir), **options)
    writer.start()
    try:
        yield writer
    finally:
        writer.close()
        store.close()


def _assert_overloaded(response: httpx.Response) -> None:
    assert response.status_code == 503
    assert response.json()["error"] == "overloaded"
    assert int(response.headers["retry-after"]) >= 1


def test_full_queue_answers_503_with_retry_after_and_loses_nothing(
    make_env: Callable[..., Env],
) -> None:
    env = make_env(max_queued_events=100, max_batch_events=100)
    store = env.app.services.events
    assert isinstance(store, DuckDBEventStore)
    writer = env.app.services.writer
    first = _batch(env.project.api_token, 60, "a")
    second = _batch(env.project.api_token, 60, "b")

    # Holding the store's write lock stalls the loader inside a real commit.
    with store._write_lock:
        # Logged and fsynced is durable: the first batch is acknowledged though not loaded.
        assert env.client.post("/batch/", json=first).status_code == 200
        assert writer.queued == 60
        _assert_overloaded(env.client.post("/batch/", json=second))
    # The client retries after Retry-After, as the SDKs do; by then the loader caught up.
    assert writer.flush()
    assert env.client.post("/batch/", json=second).status_code == 200
    stored = {e["uuid"] for e in env.events()}
    assert stored == {e["uuid"] for e in first["batch"] + second["batch"]}


def test_large_events_meet_back_pressure_by_size_not_only_by_count(
    make_env: Callable[..., Env],
) -> None:
    # A count of queued events bounds memory only while events are small: 50,000 events with
    # half a megabyte of properties each would be 25 GB. The size bound answers 503 first.
    env = make_env(max_queued_mb=1)
    store = env.app.services.events
    assert isinstance(store, DuckDBEventStore)
    writer = env.app.services.writer
    token = env.project.api_token
    large = _batch(token, 3, "large")
    for event in large["batch"]:
        event["properties"] = {"blob": "x" * 400_000}
    small = _batch(token, 2, "small")

    with store._write_lock:
        # An empty queue takes a request larger than the bound, so that it can go through.
        assert env.client.post("/batch/", json=large).status_code == 200
        assert writer.queued == 3  # far below USERLENS_MAX_QUEUED_EVENTS
        _assert_overloaded(env.client.post("/batch/", json=small))
    assert writer.flush()
    # Loaded, the queue's size is back to nothing: the same request now goes through.
    assert env.client.post("/batch/", json=small).status_code == 200
    assert writer.flush()
    stored = {e["uuid"] for e in env.events()}
    assert stored == {e["uuid"] for e in large["batch"] + small["batch"]}
    assert writer._queued_bytes == 0


def test_acknowledged_events_survive_a_failing_store(make_env: Callable[..., Env]) -> None:
    env = make_env()
    body = _batch(env.project.api_token, 3, "x")
    assert env.client.get("/_health").json()["status"] == "ok"
    env.app.services.events.close()  # every load now fails; the log still takes events
    resp = env.client.post("/batch/", json=body)
    assert resp.status_code == 200
    # The health check says so, and why, for whatever watches the server.
    _wait_for(lambda: env.client.get("/_health").status_code == 503)
    health = env.client.get("/_health").json()
    assert health["status"] == "failing"
    assert health["queued_events"] == 3
    assert "loading into the event store failed" in health["detail"]
    assert "closed" in health["detail"].lower()
    env.app.services.close()
    # The next start replays the log into the store.
    reopened = create_app(env.settings)
    try:
        page = reopened.services.events.events(env.project.id, EventFilter(), limit=10)
        assert {e.uuid for e in page.events} == {e["uuid"] for e in body["batch"]}
    finally:
        reopened.services.close()


def test_concurrent_requests_are_group_committed(env: Env) -> None:
    writer = env.app.services.writer
    store = env.app.services.events
    assert isinstance(store, DuckDBEventStore)
    bodies = [_batch(env.project.api_token, 5, f"g{i}-") for i in range(8)]
    codes: list[int] = []
    with store._write_lock:
        threads = [
            threading.Thread(
                target=lambda b=b: codes.append(env.client.post("/batch/", json=b).status_code)
            )
            for b in bodies
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert codes == [200] * 8  # acknowledged from the log while the store is stalled
        before = writer.committed_batches
    # At most the one load in flight when the lock was taken, then one for all the rest.
    assert writer.flush()
    assert writer.committed_batches - before <= 2
    assert len(env.events()) == 40


def test_close_commits_everything_queued(make_env: Callable[..., Env]) -> None:
    env = make_env()
    services = env.app.services
    store = services.events
    assert isinstance(store, DuckDBEventStore)
    events = [
        CapturedEvent(
            project_id=env.project.id,
            uuid=str(uuid7(1_700_000_000_000_000 + i)),
            event="q",
            distinct_id="d",
            timestamp_us=1_700_000_000_000_000,
            received_at_us=1_700_000_000_000_000,
            properties_json="{}",
        )
        for i in range(30)
    ]
    errors: list[BaseException] = []

    def submit(chunk: list[CapturedEvent]) -> None:
        try:
            services.writer.submit_sync(chunk)
        except BaseException as exc:
            errors.append(exc)

    with store._write_lock:
        threads = [threading.Thread(target=submit, args=(events[i : i + 10],)) for i in (0, 10, 20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert services.writer.queued == 30
        closer = threading.Thread(target=services.writer.close)
        closer.start()
    closer.join(10)
    for t in threads:
        t.join(10)
    assert not errors
    assert store.count_events(env.project.id) == 30


def _events(project_id: int, n: int, name: str = "q") -> list[CapturedEvent]:
    return [
        CapturedEvent(
            project_id=project_id,
            uuid=str(uuid.uuid4()),
            event=name,
            distinct_id=f"d{i % 7}",
            timestamp_us=1_700_000_000_000_000 + i,
            received_at_us=1_700_000_000_000_000,
            properties_json='{"$current_url": "https://shop.example/cart"}',
        )
        for i in range(n)
    ]


def test_an_idle_store_folds_its_log_into_the_file_and_keeps_every_event(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.duckdb"
    store = DuckDBEventStore(path, checkpoint_mb=1024, idle_checkpoint_mb=1)
    wal = Path(f"{path}.wal")
    written = _events(1, 8_000)
    store.write(written)
    # Below the commit threshold: the rows are only in DuckDB's log.
    logged = wal.stat().st_size
    assert logged > 1024 * 1024
    store.idle()
    assert not wal.exists() or wal.stat().st_size < logged
    store.write(_events(1, 10, "small"))
    small = wal.stat().st_size
    store.idle()  # too little to be worth a checkpoint
    assert wal.stat().st_size == small
    store.close()
    reopened = DuckDBEventStore(path)
    try:
        assert reopened.count_events(1) == 8_010
    finally:
        reopened.close()


def test_the_loader_lets_the_store_checkpoint_after_a_quiet_spell(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    store = DuckDBEventStore(path, checkpoint_mb=1024, idle_checkpoint_mb=0)
    with _running(store, tmp_path / "wal", idle_after_s=0.05) as writer:
        writer.submit_sync(_events(1, 500))
        assert writer.flush()
        wal = Path(f"{path}.wal")
        _wait_for(lambda: not wal.exists() or wal.stat().st_size == 0)
        assert store.count_events(1) == 500


def test_a_trickle_of_events_is_loaded_in_few_transactions(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    store.write(_events(1, 1))  # the first write pays for warming up
    with _running(store, tmp_path / "wal", linger_s=2.0) as writer:
        events = _events(1, 8)
        for event in events:  # eight requests of one event, each acknowledged once logged
            writer.submit_sync([event])
            time.sleep(0.1)  # long enough for a one-event transaction to commit in between
        assert writer.flush()
        # The first batch waits for company instead of paying a transaction per event.
        assert writer.committed_batches <= 2
        assert store.count_events(1) == 9


def test_flush_does_not_wait_for_a_batch_to_grow(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    with _running(store, tmp_path / "wal", linger_s=60) as writer:
        writer.submit_sync(_events(1, 3))
        started = time.monotonic()
        assert writer.flush(timeout=30)
        assert time.monotonic() - started < 30
        assert store.count_events(1) == 3


def test_idle_checkpoint_runs_alongside_readers(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    store = DuckDBEventStore(path, checkpoint_mb=1024, idle_checkpoint_mb=0)
    store.write(_events(1, 2_000))
    counts: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                counts.append(store.count_events(1))
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        _wait_for(lambda: len(counts) > 0)
        store.idle()
        assert not Path(f"{path}.wal").exists() or Path(f"{path}.wal").stat().st_size == 0
    finally:
        stop.set()
        reader.join(10)
        store.close()
    assert not errors
    assert set(counts) == {2_000}


def test_the_loader_splits_a_backlog_of_large_events_into_bounded_transactions(
    tmp_path: Path,
) -> None:
    # DuckDB holds a transaction's rows within its memory limit: a backlog of large events
    # loaded at once ran it out of memory and was retried for ever. Batches are cut by size.
    store = BatchSizes(tmp_path / "events.duckdb")
    requests = [_events(1, 2, f"r{i}") for i in range(6)]
    for events in requests:
        for event in events:
            event.properties_json = orjson.dumps({"blob": "x" * 50_000}).decode()
    with _running(store, tmp_path / "wal", max_batch_bytes=250_000) as writer:
        with store._write_lock:  # the loader stalls on its first batch while the rest queue
            threads = [threading.Thread(target=writer.submit_sync, args=(e,)) for e in requests]
            for thread in threads:
                thread.start()
            _wait_for(lambda: writer.queued == 12)
        for thread in threads:
            thread.join()
        assert writer.flush()
        assert store.count_events(1) == 12
        assert max(store.sizes) <= 250_000
        assert sum(store.sizes) == sum(len(e.properties_json) for r in requests for e in r)


def test_a_batch_too_large_for_duckdbs_memory_limit_is_loaded_in_parts(tmp_path: Path) -> None:
    # With a small memory limit, a batch of 10,000 events of ~1 kB each does not fit once the
    # store holds some rows. It was retried whole, failing again and again while capture
    # answered 503. It is now loaded in halves, in order, so persons end as if it had fitted.
    store = BatchSizes(tmp_path / "events.duckdb", memory_limit="64MB")
    requests = [_events(1, 10_000, f"r{i}") for i in range(4)]
    for r, events in enumerate(requests):
        for i, event in enumerate(events):
            event.properties_json = orjson.dumps({"r": r, "i": i, "pad": "x" * 1_000}).decode()
            event.set_props = {"last": f"{r}-{i}"}
    with _running(store, tmp_path / "wal", max_batch=10_000) as writer:
        for events in requests:
            writer.submit_sync(events)
        assert writer.flush(timeout=120)
        assert store.count_events(1) == 40_000
        assert writer.store_failures == 0  # no batch had to wait for a retry
        whole = sum(len(e.properties_json) for e in requests[0])
        assert min(store.sizes) < whole  # at least one batch did not fit and was split
        assert sum(store.sizes) >= 4 * whole
        for d in range(7):  # each person's last $set is the last event's, as if written whole
            person = store.person(1, f"d{d}")
            assert person is not None
            last = max(i for i in range(10_000) if i % 7 == d)
            assert person.properties["last"] == f"3-{last}"


def test_the_loader_counts_as_failing_only_while_a_batch_keeps_failing(tmp_path: Path) -> None:
    store = FailingWrites(tmp_path / "events.duckdb", failures=FAILING_AFTER)
    with _running(store, tmp_path / "wal") as writer:
        writer.submit_sync(_events(1, 2))
        _wait_for(lambda: writer.failing is not None)
        assert "disk went away" in (writer.failing or "")
        # The retry after that succeeds: the batch is stored and the loader is well again.
        assert writer.flush()
        assert writer.failing is None
        assert store.count_events(1) == 2


def test_a_request_abandoned_while_its_group_is_logged_loses_nothing(tmp_path: Path) -> None:
    # The waiters of a group are woken together; one whose request was abandoned (its task
    # cancelled) is skipped, and its events are logged and loaded like the others'.
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    requests = [_events(1, 3, f"r{i}") for i in range(3)]

    async def scenario(writer: BatchWriter) -> None:
        writer._wal_lock.acquire()  # the appender stalls before writing the group
        tasks = [asyncio.create_task(writer.submit(events)) for events in requests]
        await asyncio.sleep(0.05)
        tasks[1].cancel()
        writer._wal_lock.release()
        await asyncio.wait_for(asyncio.gather(tasks[0], tasks[2]), 10)
        with pytest.raises(asyncio.CancelledError):
            await tasks[1]

    with _running(store, tmp_path / "wal") as writer:
        asyncio.run(scenario(writer))
        assert writer.flush()
        stored = {e.uuid for e in store.events(1, EventFilter(), limit=100).events}
        assert stored == {e.uuid for events in requests for e in events}
