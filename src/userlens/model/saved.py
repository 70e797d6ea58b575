"""Saved insights and dashboards: a named insight spec, and a named, ordered set of them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, ValidationInfo, field_validator

from userlens.model.activity import LifecycleQuery
from userlens.model.filters import Filter, Spec
from userlens.model.ids import Id
from userlens.model.insight import (
    DateRange,
    EventRef,
    Interval,
    TrendsDisplay,
    TrendsMath,
    TrendsQuery,
    TrendsSeries,
    date_point,
)
from userlens.model.paths import PathsQuery
from userlens.model.queries import InsightQuery
from userlens.model.retention import RetentionQuery


class SavedInsightIn(Spec):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    spec: InsightQuery


class SavedInsightPatch(Spec):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    spec: InsightQuery | None = None


class SavedInsight(Spec):
    id: int
    project_id: int
    name: str
    description: str
    spec: InsightQuery
    created_at: datetime
    updated_at: datetime


class DashboardFilters(Spec):
    """What a dashboard applies to every tile when the web app draws it: a start of the date
    range in place of each tile's own (for the kinds that have a date range; `None`: each
    tile's own), and filters that hold on top of each tile's own."""

    date_from: str | None = None
    filters: list[Filter] = Field(default_factory=list, max_length=50)

    @field_validator("date_from")
    @classmethod
    def _form(cls, value: str | None, info: ValidationInfo) -> str | None:
        return date_point(value, info)


class DashboardIn(Spec):
    name: str = Field(min_length=1, max_length=200)
    tiles: list[Id] = Field(default_factory=list, max_length=100, description="insight ids")
    filters: DashboardFilters = Field(default_factory=DashboardFilters)


class DashboardPatch(Spec):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    tiles: list[Id] | None = Field(
        default=None, max_length=100, description="insight ids, in the order shown"
    )
    # Replaces the saved filters as a whole.
    filters: DashboardFilters | None = None


class Dashboard(Spec):
    id: int
    project_id: int
    name: str
    tiles: list[SavedInsight]
    filters: DashboardFilters = Field(default_factory=DashboardFilters)
    created_at: datetime
    updated_at: datetime


PAGEVIEW = EventRef(event="$pageview")
LAST_30_DAYS = DateRange(date_from="-30d")


def product_overview() -> tuple[str, list[SavedInsightIn]]:
    """The dashboard every new project starts with."""
    return "Product overview", [
        SavedInsightIn(
            name="Page views",
            spec=TrendsQuery(series=[TrendsSeries(event="$pageview")], date_range=LAST_30_DAYS),
        ),
        SavedInsightIn(
            name="Unique visitors",
            spec=TrendsQuery(
                series=[TrendsSeries(event="$pageview", math=TrendsMath.UNIQUE_PERSONS)],
                date_range=LAST_30_DAYS,
                compare=True,
                display=TrendsDisplay.NUMBER,
            ),
        ),
        SavedInsightIn(
            name="Weekly active users",
            spec=TrendsQuery(series=[TrendsSeries(math=TrendsMath.WAU)], date_range=LAST_30_DAYS),
        ),
        SavedInsightIn(
            name="New, returning and dormant users",
            spec=LifecycleQuery(event=PAGEVIEW, date_range=LAST_30_DAYS, interval=Interval.DAY),
        ),
        SavedInsightIn(
            name="Weekly retention",
            spec=RetentionQuery(start=PAGEVIEW, period=Interval.WEEK, periods=8),
        ),
        SavedInsightIn(name="Top paths", spec=PathsQuery(steps=4, date_range=LAST_30_DAYS)),
    ]
