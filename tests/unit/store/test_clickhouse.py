"""The ClickHouse store's own parts: parameters that reach ClickHouse intact whatever they
hold, the project filter on every table, and a dialect that spells every construct."""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.clickhouse import clickhouse_http_store, clickhouse_store
from userlens.query.dialect import CLICKHOUSE, DUCKDB, ClickHouse, DuckDB
from userlens.store.clickhouse import ClickHouseEventStore
from userlens.store.clickhouse.params import as_text, typed
from userlens.store.clickhouse.transport import HttpTransport, QueryFailed
from userlens.store.sql import Query

_STORES: dict[str, ClickHouseEventStore] = {}
OPENERS = {"chdb": clickhouse_store, "http": clickhouse_http_store}


def store(transport: str = "chdb") -> ClickHouseEventStore:
    """One empty store per transport for this module."""
    if transport not in _STORES:
        _STORES[transport] = OPENERS[transport]()
    return _STORES[transport]


text = st.text(st.characters(codec="utf-8"), max_size=40)
times = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1))


@pytest.mark.parametrize("transport", sorted(OPENERS))
@settings(max_examples=60, deadline=None)
@given(
    value=text, items=st.lists(text, max_size=4), moment=times, number=st.integers(-(2**62), 2**62)
)
def test_every_value_reaches_clickhouse_unchanged(
    transport: str, value: str, items: list[str], moment: datetime, number: int
) -> None:
    rows = store(transport).run(
        "SELECT $v, $items, $moment, $n, $none IS NULL, '$v' AS literal",
        {"v": value, "items": items, "moment": moment, "n": number, "none": None},
    )
    assert rows == [(value, items, moment, number, True, "$v")]


def test_over_http_an_error_names_what_clickhouse_said() -> None:
    with pytest.raises(QueryFailed, match="nosuchfunction"):
        store("http").run("SELECT nosuchfunction($x)", {"x": 1})


def test_over_http_an_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(QueryFailed, match="cannot reach ClickHouse"):
        HttpTransport("http://127.0.0.1:9", timeout_s=2)


def test_a_string_literal_that_looks_like_a_parameter_is_left_alone() -> None:
    sql = typed("SELECT '$p0', $p0, 'it''s $p0'", {"p0": "x"})
    assert sql == "SELECT '$p0', {p0:String}, 'it''s $p0'"
    assert as_text({"p0": "x\ty"}) == {"p0": "x\\ty"}


def test_an_unbound_parameter_is_refused() -> None:
    with pytest.raises(ValueError, match="unbound"):
        typed("SELECT $missing", {})


def test_every_table_is_read_through_the_project_filter() -> None:
    sources = store()._sources()
    for table, source in sources.items():
        assert "project_id = $project_id" in source, table
    query = Query("SELECT count(*) FROM {events} e JOIN {persons} p ON true", {})
    with pytest.raises(ValueError, match="placeholders"):
        store().query(1, Query("SELECT count(*) FROM events", {}))
    assert store().query(1, query) == [(0,)]


def test_clickhouse_spells_every_construct_itself() -> None:
    """A construct the ClickHouse dialect forgot would silently be DuckDB's SQL."""
    shared = {"name"}
    for name, _ in inspect.getmembers(DuckDB, inspect.isfunction):
        if name.startswith("_") or name in shared:
            continue
        assert ClickHouse.__dict__.get(name) is not None, f"ClickHouse does not define {name}"
    assert CLICKHOUSE.name != DUCKDB.name


@pytest.mark.parametrize(
    ("moment", "part", "expected"),
    [
        (datetime(2026, 3, 4, 13, 45, 10), "hour", datetime(2026, 3, 4, 13)),
        (datetime(2026, 3, 4, 13, 45, 10), "day", datetime(2026, 3, 4)),
        (datetime(2026, 3, 4, 13, 45, 10), "week", datetime(2026, 3, 2)),  # a Monday
        (datetime(2026, 3, 4, 13, 45, 10), "month", datetime(2026, 3, 1)),
    ],
)
def test_buckets_start_where_duckdbs_do(moment: datetime, part: str, expected: datetime) -> None:
    rows: list[Any] = store().run(
        f"SELECT {CLICKHOUSE.trunc('$part', '$t')}", {"part": part, "t": moment}
    )
    assert rows == [(expected,)]
