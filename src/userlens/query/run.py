"""One entry point for every insight spec: the runner of its kind."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from userlens.model.activity import (
    LifecyclePersonsQuery,
    LifecycleQuery,
    StickinessPersonsQuery,
    StickinessQuery,
)
from userlens.model.funnel import FunnelPersonsQuery, FunnelQuery
from userlens.model.insight import TrendsPersonsQuery, TrendsQuery
from userlens.model.paths import PathsPersonsQuery, PathsQuery
from userlens.model.queries import InsightQuery, InsightResult
from userlens.model.retention import RetentionPersonsQuery, RetentionQuery
from userlens.query import funnels, lifecycle, paths, retention, stickiness, trends
from userlens.store.sql import Query

Execute = Callable[[Query], Sequence[Any]]


RUNNERS: dict[type[Any], Callable[[Any, str, datetime, Execute], InsightResult]] = {
    TrendsQuery: trends.run,
    FunnelQuery: funnels.run,
    RetentionQuery: retention.run,
    PathsQuery: paths.run,
    LifecycleQuery: lifecycle.run,
    StickinessQuery: stickiness.run,
    TrendsPersonsQuery: trends.run_persons,
    FunnelPersonsQuery: funnels.run_persons,
    RetentionPersonsQuery: retention.run_persons,
    PathsPersonsQuery: paths.run_persons,
    LifecyclePersonsQuery: lifecycle.run_persons,
    StickinessPersonsQuery: stickiness.run_persons,
}


def run(spec: InsightQuery, timezone: str, now: datetime, execute: Execute) -> InsightResult:
    """Answer `spec` in the project's time zone, with `now` injected."""
    return RUNNERS[type(spec)](spec, timezone, now, execute)
