"""One entry point for every insight spec: the runner of its kind."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from userlens.model.activity import (
    LifecyclePersonsQuery,
    LifecycleQuery,
    StickinessPersonsQuery,
    StickinessQuery,
)
from userlens.model.funnel import (
    FunnelCorrelationPersonsQuery,
    FunnelCorrelationQuery,
    FunnelPersonsQuery,
    FunnelQuery,
)
from userlens.model.insight import TrendsPersonsQuery, TrendsQuery
from userlens.model.paths import PathsPersonsQuery, PathsQuery
from userlens.model.queries import InsightQuery, InsightResult
from userlens.model.retention import RetentionPersonsQuery, RetentionQuery
from userlens.query import correlation, funnels, lifecycle, paths, retention, stickiness, trends
from userlens.query.dialect import DIALECTS, Engine
from userlens.store.events import EventStore

RUNNERS: dict[type[Any], Callable[[Any, str, datetime, Engine], InsightResult]] = {
    TrendsQuery: trends.run,
    FunnelQuery: funnels.run,
    RetentionQuery: retention.run,
    PathsQuery: paths.run,
    LifecycleQuery: lifecycle.run,
    StickinessQuery: stickiness.run,
    TrendsPersonsQuery: trends.run_persons,
    FunnelPersonsQuery: funnels.run_persons,
    FunnelCorrelationQuery: correlation.run,
    FunnelCorrelationPersonsQuery: correlation.run_persons,
    RetentionPersonsQuery: retention.run_persons,
    PathsPersonsQuery: paths.run_persons,
    LifecyclePersonsQuery: lifecycle.run_persons,
    StickinessPersonsQuery: stickiness.run_persons,
}


def engine_of(store: EventStore, project_id: int) -> Engine:
    """Queries of one project on `store`, in its dialect."""
    return Engine(DIALECTS[store.dialect], lambda query: store.query(project_id, query))


def run(spec: InsightQuery, timezone: str, now: datetime, engine: Engine) -> InsightResult:
    """Answer `spec` in the project's time zone, with `now` injected."""
    return RUNNERS[type(spec)](spec, timezone, now, engine)
