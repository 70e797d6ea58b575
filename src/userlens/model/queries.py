"""Every insight spec the query API takes, and every result it gives, told apart by `kind`
(a spec without one is a trends spec)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag

from userlens.model.activity import (
    LifecyclePersonsQuery,
    LifecycleQuery,
    LifecycleResult,
    StickinessPersonsQuery,
    StickinessQuery,
    StickinessResult,
)
from userlens.model.funnel import (
    FunnelCorrelationPersonsQuery,
    FunnelCorrelationQuery,
    FunnelCorrelationResult,
    FunnelPersonsQuery,
    FunnelQuery,
    FunnelResult,
)
from userlens.model.insight import PersonsResult, TrendsPersonsQuery, TrendsQuery, TrendsResult
from userlens.model.paths import PathsPersonsQuery, PathsQuery, PathsResult
from userlens.model.retention import RetentionPersonsQuery, RetentionQuery, RetentionResult

KINDS = frozenset(
    {
        "trends",
        "funnel",
        "retention",
        "paths",
        "lifecycle",
        "stickiness",
        "funnel_persons",
        "funnel_correlation",
        "funnel_correlation_persons",
        "retention_persons",
        "paths_persons",
        "lifecycle_persons",
        "stickiness_persons",
        "trends_persons",
    }
)


def _kind(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("kind", "trends")
    return getattr(value, "kind", None)


InsightQuery = Annotated[
    Annotated[TrendsQuery, Tag("trends")]
    | Annotated[FunnelQuery, Tag("funnel")]
    | Annotated[RetentionQuery, Tag("retention")]
    | Annotated[PathsQuery, Tag("paths")]
    | Annotated[LifecycleQuery, Tag("lifecycle")]
    | Annotated[StickinessQuery, Tag("stickiness")]
    | Annotated[TrendsPersonsQuery, Tag("trends_persons")]
    | Annotated[FunnelPersonsQuery, Tag("funnel_persons")]
    | Annotated[FunnelCorrelationQuery, Tag("funnel_correlation")]
    | Annotated[FunnelCorrelationPersonsQuery, Tag("funnel_correlation_persons")]
    | Annotated[RetentionPersonsQuery, Tag("retention_persons")]
    | Annotated[PathsPersonsQuery, Tag("paths_persons")]
    | Annotated[LifecyclePersonsQuery, Tag("lifecycle_persons")]
    | Annotated[StickinessPersonsQuery, Tag("stickiness_persons")],
    Discriminator(_kind),
]

# The drill-downs: each lists the persons behind one number of an insight.
PersonsQuery = Annotated[
    TrendsPersonsQuery
    | FunnelPersonsQuery
    | FunnelCorrelationPersonsQuery
    | RetentionPersonsQuery
    | PathsPersonsQuery
    | LifecyclePersonsQuery
    | StickinessPersonsQuery,
    Field(discriminator="kind"),
]

InsightResult = Annotated[
    TrendsResult
    | FunnelResult
    | RetentionResult
    | PathsResult
    | LifecycleResult
    | StickinessResult
    | PersonsResult
    | FunnelCorrelationResult,
    Field(discriminator="kind"),
]
