"""The SQL layer: the tenant filter is added in one place, and generated SQL is snapshotted
so a review sees every change to it."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from userlens.model.activity import (
    LifecyclePersonsQuery,
    LifecycleQuery,
    LifecycleStatus,
    StickinessPersonsQuery,
    StickinessQuery,
)
from userlens.model.filters import (
    CohortDefinition,
    CohortFilter,
    DidEvent,
    FilterGroup,
    HasProperty,
)
from userlens.model.funnel import (
    ConversionTime,
    FunnelCorrelationPersonsQuery,
    FunnelCorrelationQuery,
    FunnelExclusion,
    FunnelOrder,
    FunnelPersonsQuery,
    FunnelQuery,
    FunnelStep,
    HistogramScale,
)
from userlens.model.insight import (
    BreakdownLine,
    DateRange,
    EventRef,
    Interval,
    Operator,
    PropertyFilter,
    TrendsMath,
    TrendsPersonsQuery,
    TrendsQuery,
    TrendsSeries,
)
from userlens.model.paths import PathCleaning, PathsPersonsQuery, PathsQuery
from userlens.model.retention import RetentionPersonsQuery, RetentionQuery, RetentionType
from userlens.query import trends
from userlens.query.dates import resolve
from userlens.query.dialect import DIALECTS, Engine
from userlens.query.run import run
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


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_trends_sql_snapshot(dialect: str) -> None:
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
    query = trends.build(spec, window, "Europe/Paris", DIALECTS[dialect])
    text = (
        query.sql.replace(" UNION ALL ", "\nUNION ALL\n")
        + "\n-- params: "
        + repr(sorted(query.params.items()))
        + "\n"
    )
    path = SNAPSHOTS / f"trends_{dialect}.sql"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert text == path.read_text(), "generated SQL changed: rerun with UPDATE_SNAPSHOTS=1"
    assert "signup" not in query.sql and "plan" not in query.sql  # values are parameters


CTE = re.compile(r"\), (\w+) AS (MATERIALIZED )?\(")

FUNNEL = FunnelQuery(
    steps=[
        FunnelStep(event="landing"),
        FunnelStep(event="signup", filters=[PropertyFilter(key="plan", value="pro")]),
        FunnelStep(event="checkout"),
    ],
    order=FunnelOrder.STRICT,
    window=7,
    exclusions=[FunnelExclusion(event="cancel", from_step=1, to_step=2)],
    breakdown="$browser",
)
COHORT = CohortFilter(
    cohort_id=4,
    definition=CohortDefinition(
        match="any",
        rules=[
            DidEvent(event="buy", min_count=2, days=30, since=NOW),
            HasProperty(filter=PropertyFilter(key="tier", type="person", value="gold")),
        ],
    ),
)
SPECS: dict[str, BaseModel] = {
    "funnel": FUNNEL,
    "funnel_unordered": FunnelQuery(
        steps=[FunnelStep(event="a"), FunnelStep(event="b")], order=FunnelOrder.UNORDERED
    ),
    "funnel_persons": FunnelPersonsQuery(funnel=FUNNEL, step=2, status="dropped"),
    # Those who stopped at any step before the last.
    "funnel_persons_not_converted": FunnelPersonsQuery(
        funnel=FUNNEL, step=2, status="not_converted"
    ),
    # Ordered, no breakdown or exclusion: each step's first and last time per person.
    "funnel_plain": FunnelQuery(
        steps=[FunnelStep(event="signup"), FunnelStep(event="login"), FunnelStep(event="buy")]
    ),
    # A histogram of equal bins, each line's from its shortest time to its longest.
    "funnel_linear": FunnelQuery(
        steps=[FunnelStep(event="signup"), FunnelStep(event="buy")],
        histogram_scale=HistogramScale.LINEAR,
    ),
    # Conversion over time: the counts again per week of the attempts' local start.
    "funnel_over_time": FunnelQuery(
        steps=[FunnelStep(event="signup"), FunnelStep(event="buy")], over_time=Interval.WEEK
    ),
    # The persons of one of those weeks.
    "funnel_persons_period": FunnelPersonsQuery(
        funnel=FunnelQuery(
            steps=[FunnelStep(event="signup"), FunnelStep(event="buy")], over_time=Interval.WEEK
        ),
        step=1,
        period=datetime(2026, 11, 16),
    ),
    # The persons of one bin of the time to convert.
    "funnel_persons_converted_in": FunnelPersonsQuery(
        funnel=FunnelQuery(steps=[FunnelStep(event="signup"), FunnelStep(event="buy")]),
        step=1,
        converted_in=ConversionTime(from_seconds=60, to_seconds=120),
    ),
    # The events tied to converting or dropping, for one line, with an event left out.
    "funnel_correlation": FunnelCorrelationQuery(
        funnel=FUNNEL, line=BreakdownLine(value="Firefox"), exclude=["$pageleave"]
    ),
    # The values of two person properties instead of events.
    "funnel_correlation_properties": FunnelCorrelationQuery(
        funnel=FUNNEL, person_properties=["plan", "$geoip_country_code"]
    ),
    # The persons who have one of them and converted.
    "funnel_correlation_persons_property": FunnelCorrelationPersonsQuery(
        funnel=FUNNEL, property="plan", value="gold"
    ),
    # Its persons who did an event and dropped.
    "funnel_correlation_persons": FunnelCorrelationPersonsQuery(
        funnel=FUNNEL, event="$autocapture", converted=False
    ),
    # A step repeated: an event can be two steps, so each step has a flag of its own.
    "funnel_repeated": FunnelQuery(
        steps=[FunnelStep(event="login"), FunnelStep(event="buy"), FunnelStep(event="login")]
    ),
    # A line per plan (seven days: one mask per person; weeks across the clock change and
    # months: the cohorts joined to the returns).
    "retention_breakdown": RetentionQuery(breakdown="plan", breakdown_limit=3),
    "retention_breakdown_daily": RetentionQuery(period=Interval.DAY, periods=7, breakdown="plan"),
    "retention_breakdown_monthly": RetentionQuery(
        period=Interval.MONTH, breakdown="plan", type=RetentionType.FIRST_TIME
    ),
    # A line per plan of the start event that put a person in each cohort.
    "retention_breakdown_event": RetentionQuery(
        period=Interval.DAY, periods=7, breakdown="plan", breakdown_type="event"
    ),
    # The persons of one line's cell.
    "retention_persons_line": RetentionPersonsQuery(
        retention=RetentionQuery(breakdown="plan"),
        cohort=1,
        period=1,
        line=BreakdownLine(value="pro"),
    ),
    "retention": RetentionQuery(
        start=EventRef(event="signup"),
        returning=EventRef(event="login"),
        type=RetentionType.FIRST_TIME,
        filters=[COHORT],
    ),
    # Days without a daylight-saving change: two masks per person.
    "retention_daily": RetentionQuery(
        start=EventRef(event="signup"),
        period=Interval.DAY,
        periods=7,
        type=RetentionType.FIRST_TIME,
    ),
    "retention_persons": RetentionPersonsQuery(
        retention=RetentionQuery(start=EventRef(event="signup")), cohort=1, period=2
    ),
    "paths": PathsQuery(include=["pageview", "custom"], start_point="/pricing", steps=4),
    # Without an anchor: sessions grouped by their first steps.
    "paths_unanchored": PathsQuery(steps=5),
    "paths_cleaned": PathsQuery(
        steps=4,
        path_cleaning=[PathCleaning(regex="^/product/\\d+", alias="/product/:id")],
        exclude=["/login"],
    ),
    "paths_persons": PathsPersonsQuery(
        paths=PathsQuery(end_point="/checkout"), step=1, source="/cart", target="/checkout"
    ),
    "lifecycle": LifecycleQuery(
        event=EventRef(event="login"),
        filters=[FilterGroup(match="any", filters=[COHORT, PropertyFilter(key="x", value=1)])],
    ),
    "lifecycle_persons": LifecyclePersonsQuery(
        lifecycle=LifecycleQuery(), bucket=3, status=LifecycleStatus.DORMANT
    ),
    "trends_persons": TrendsPersonsQuery(
        trends=TrendsQuery(series=[TrendsSeries(event="signup")], breakdown="plan"),
        bucket=2,
        line=BreakdownLine(is_other=True),
    ),
    # Daily distinct persons counted with one bit per bucket.
    "trends_unique_daily": TrendsQuery(
        series=[TrendsSeries(event="signup", math=TrendsMath.UNIQUE_PERSONS)]
    ),
    # Daily WAU counted with one bit per bucket; weekly MAU with spans.
    "trends_active_daily": TrendsQuery(series=[TrendsSeries(event="signup", math=TrendsMath.WAU)]),
    "trends_active_weekly": TrendsQuery(
        series=[TrendsSeries(event="signup", math=TrendsMath.MAU)], interval=Interval.WEEK
    ),
    # The same by plan: the events' lines first, then per person and line.
    "trends_active_daily_breakdown": TrendsQuery(
        series=[TrendsSeries(event="signup", math=TrendsMath.WAU)], breakdown="plan"
    ),
    "trends_active_weekly_breakdown": TrendsQuery(
        series=[TrendsSeries(event="signup", math=TrendsMath.MAU)],
        interval=Interval.WEEK,
        breakdown="plan",
    ),
    # The persons of one plan's weekly active users.
    "trends_active_persons_line": TrendsPersonsQuery(
        trends=TrendsQuery(
            series=[TrendsSeries(event="signup", math=TrendsMath.WAU)], breakdown="plan"
        ),
        bucket=2,
        line=BreakdownLine(value="pro"),
    ),
    "stickiness": StickinessQuery(series=[EventRef(event="login"), EventRef(event="export")]),
    "stickiness_persons": StickinessPersonsQuery(
        stickiness=StickinessQuery(series=[EventRef(event="login")]), intervals=3
    ),
}


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize("name", sorted(SPECS))
def test_insight_sql_snapshots(name: str, dialect: str) -> None:
    queries: list[Query] = []

    def capture(query: Query) -> list[Any]:
        queries.append(query)
        return []

    run(SPECS[name], "Europe/Paris", NOW, Engine(DIALECTS[dialect], capture))  # type: ignore[arg-type]
    text = "".join(
        CTE.sub(lambda m: "),\n" + m.group(0)[3:], q.sql).replace(" UNION ALL ", "\nUNION ALL\n")
        + "\n-- params: "
        + repr(sorted(q.params.items()))
        + "\n"
        for q in queries
    )
    path = SNAPSHOTS / f"{name}_{dialect}.sql"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert text == path.read_text(), "generated SQL changed: rerun with UPDATE_SNAPSHOTS=1"
    for word in ("signup", "login", "/pricing", "/checkout", "gold"):
        assert word not in text.split("-- params")[0]  # values are parameters
