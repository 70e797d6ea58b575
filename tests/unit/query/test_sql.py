"""The SQL layer: the tenant filter is added in one place, and generated SQL is snapshotted
so a review sees every change to it."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from userlens.model.insight import (
    DateRange,
    Interval,
    Operator,
    PropertyFilter,
    TrendsMath,
    TrendsQuery,
    TrendsSeries,
)
from userlens.query import trends
from userlens.query.dates import resolve
from userlens.store.sql import Query, scope

SNAPSHOTS = Path(__file__).parent / "snapshots"
NOW = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)


def test_scope_adds_the_project_filter_to_every_table() -> None:
    q = scope(Query("SELECT count(*) FROM {events} e JOIN {person_overrides} o ON true", {}), 3)
    assert q.sql.count("WHERE project_id = $project_id") == 2
    assert q.params == {"project_id": 3}


@pytest.mark.parametrize(
    "sql", ["SELECT * FROM events", "SELECT 1 FROM {events} e join persons p ON true"]
)
def test_scope_refuses_tables_named_directly(sql: str) -> None:
    with pytest.raises(ValueError, match="placeholders"):
        scope(Query(sql, {}), 1)


def test_scope_binds_the_project_itself() -> None:
    with pytest.raises(ValueError, match="project_id"):
        scope(Query("SELECT 1 FROM {events}", {"project_id": 2}), 1)


def test_trends_sql_snapshot() -> None:
    spec = TrendsQuery(
        series=[
            TrendsSeries(event="signup", math=TrendsMath.UNIQUE_PERSONS),
            TrendsSeries(
                filters=[PropertyFilter(key="plan", operator=Operator.IN, value=["pro", "team"])]
            ),
        ],
        interval=Interval.WEEK,
        date_range=DateRange(date_from="-4w"),
        filters=[PropertyFilter(key="$browser", operator=Operator.CONTAINS, value="chrome")],
        breakdown="plan",
        breakdown_limit=5,
    )
    window = resolve(spec.date_range, spec.interval, "Europe/Paris", NOW)
    query = trends.build(spec, window, "Europe/Paris")
    text = (
        query.sql.replace(" UNION ALL ", "\nUNION ALL\n")
        + "\n-- params: "
        + repr(sorted(query.params.items()))
        + "\n"
    )
    path = SNAPSHOTS / "trends_duckdb.sql"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert text == path.read_text(), "generated SQL changed: rerun with UPDATE_SNAPSHOTS=1"
    assert "signup" not in query.sql and "plan" not in query.sql  # values are parameters
