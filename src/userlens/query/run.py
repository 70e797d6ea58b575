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
from userlens.model.insight import TrendsQuery
from userlens.model.paths import PathsPersonsQuery, PathsQuery
from userlens.model.queries import InsightQuery, InsightResult
from userlens.model.retention import RetentionPersonsQuery, RetentionQuery
from userlens.query import funnels, lifecycle, paths, retention, stickiness, trends
from userlens.store.sql import Query

Execute = Callable[[Query], Sequence[Any]]


def run(spec: InsightQuery, timezone: str, now: datetime, execute: Execute) -> InsightResult:
    """Answer `spec` in the project's time zone, with `now` injected."""
    match spec:
        case TrendsQuery():
            return trends.run(spec, timezone, now, execute)
        case FunnelQuery():
            return funnels.run(spec, timezone, now, execute)
        case RetentionQuery():
            return retention.run(spec, timezone, now, execute)
        case PathsQuery():
            return paths.run(spec, timezone, now, execute)
        case LifecycleQuery():
            return lifecycle.run(spec, timezone, now, execute)
        case StickinessQuery():
            return stickiness.run(spec, timezone, now, execute)
        case FunnelPersonsQuery():
            return funnels.run_persons(spec, timezone, now, execute)
        case RetentionPersonsQuery():
            return retention.run_persons(spec, timezone, now, execute)
        case PathsPersonsQuery():
            return paths.run_persons(spec, timezone, now, execute)
        case LifecyclePersonsQuery():
            return lifecycle.run_persons(spec, timezone, now, execute)
        case StickinessPersonsQuery():
            return stickiness.run_persons(spec, timezone, now, execute)
