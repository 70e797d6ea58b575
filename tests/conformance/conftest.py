"""Every `EventStore` backend, so the conformance suite runs once per backend."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.clickhouse import clickhouse_http_store, clickhouse_store
from userlens.store.duckdb import DuckDBEventStore
from userlens.store.events import EventStore

StoreFactory = Callable[[], EventStore]


def _clickhouse(path: Path | None) -> EventStore:
    # A path names one store, opened again by later calls; no path, a fresh one.
    if path is None:
        return clickhouse_store()
    return clickhouse_store("at_" + hashlib.sha256(str(path).encode()).hexdigest()[:16])


def _clickhouse_http(path: Path | None) -> EventStore:
    if path is None:
        return clickhouse_http_store()
    return clickhouse_http_store("ht_" + hashlib.sha256(str(path).encode()).hexdigest()[:16])


BACKENDS: dict[str, Callable[[Path | None], EventStore]] = {
    "duckdb": lambda path: DuckDBEventStore(path / "events.duckdb" if path else None),
    "clickhouse": _clickhouse,
    "clickhouse-http": _clickhouse_http,
}


@pytest.fixture(params=sorted(BACKENDS))
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """A factory of fresh, empty stores of one backend (in memory where it can be)."""
    opened: list[EventStore] = []
    backend = BACKENDS[request.param]

    def build() -> EventStore:
        store = backend(None)
        opened.append(store)
        return store

    yield build
    for store in opened:
        store.close()


@pytest.fixture(params=sorted(BACKENDS))
def make_file_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], EventStore]:
    """A factory that opens the same on-disk store again each call (for reopen tests)."""
    backend = BACKENDS[request.param]
    return lambda: backend(tmp_path)
