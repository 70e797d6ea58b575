"""How DuckDB runs the embedded store's funnels: their ASOF joins must stay sorted ASOF joins.

When the left side of an ASOF join is small, DuckDB runs it as a nested loop join instead,
every left row against every right row of its key. A funnel's attempts often look small, so
one person with thousands of attempts (a bot, a load test) made each step quadratic in their
events: 20,000 events took 207 ms instead of 16."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conformance.test_event_store import PROJECT, captured
from userlens.model.funnel import FunnelOrder, FunnelQuery, FunnelStep
from userlens.model.insight import DateRange
from userlens.query import funnels
from userlens.query.dates import span
from userlens.query.dialect import DUCKDB
from userlens.store.duckdb import DuckDBEventStore
from userlens.store.sql import Query

T = datetime(2026, 4, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("order", list(FunnelOrder))
def test_a_funnels_asof_joins_are_never_nested_loops(tmp_path: Path, order: FunnelOrder) -> None:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    try:
        events = ["view", "buy", "view", "buy"]
        store.write(
            [
                captured("a", event=event, ts_us=int((T + timedelta(hours=i)).timestamp() * 1e6))
                for i, event in enumerate(events)
            ]
        )
        spec = FunnelQuery(
            steps=[FunnelStep(event="view"), FunnelStep(event="buy")],
            order=order,
            date_range=DateRange(date_from="-7d"),
        )
        start, end = span(spec.date_range, "UTC", T + timedelta(days=1))
        built = funnels.build(spec, start, end, DUCKDB, "UTC")
        ran = store.query(PROJECT, Query("EXPLAIN ANALYZE " + built.sql, built.params))
        joins = set(re.findall(r"(Asof Join|Nested Loop Join)", "\n".join(map(str, ran[0]))))
        assert joins == {"Asof Join"}
    finally:
        store.close()
