"""Paths: the most common sequences of pages (and custom events) within sessions.

The rule, the same on every backend and in the reference implementation:
- a path is the events of one person's session in the date range, in time order (events at
  the same time by node name); a `$pageview` is the node of its path name (as the project's
  and then the spec's `path_cleaning` rewrite it), any other event not starting with `$` the
  node of its name (when `custom` is included); nodes named in `exclude` are left out;
  repeats of the same node in a row (once those are left out) count once, at the first;
- `start_point`: a path begins at its session's first visit of that node (sessions without
  one are left out); `end_point`: it ends at the first visit of that node, with at most
  `steps` nodes up to it; otherwise it begins at the session's first node;
- per step, only the `max_nodes_per_step` nodes with the most paths are kept (ties by name);
  an edge links a kept node to a kept node of the next step, weighted by the paths that go
  along it, and is shown when its weight is at least `min_edge_weight`.
"""

from __future__ import annotations

import importlib
import re
import warnings
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from userlens.model.filters import Filter, compile_quietly, not_re2
from userlens.model.ids import new_input
from userlens.model.insight import DateRange, PersonsPage, Spec

PathKind = Literal["pageview", "custom"]
# Rules an insight, or a project, may have: a paths spec holds the project's and its own.
MAX_RULES = 20
# Python's own regex parser, for the least width a pattern can match.
_SRE: Any = importlib.import_module("re._parser")


def _least_width(pattern: str) -> int:
    """The fewest characters a match of `pattern` (which compiles) can take."""
    with warnings.catch_warnings():  # as `compile_quietly`
        warnings.simplefilter("ignore")
        least: int = _SRE.parse(pattern).getwidth()[0]
    return least


class PathCleaning(Spec):
    """A page view's path name with every match of `regex` replaced by `alias`, so that pages
    that differ by an id are one node: `/product/\\d+` as `/product/:id`. Rules apply in order,
    each to what the rules before it left; custom events' names are kept as they are."""

    regex: str = Field(min_length=1, max_length=500)
    alias: str = Field(max_length=200)

    @field_validator("regex")
    @classmethod
    def _one_meaning(cls, value: str) -> str:
        try:
            compile_quietly(value)
            least = _least_width(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if (refused := not_re2(value)) is not None:
            raise ValueError(f"{refused} are not supported in regular expressions")
        # Engines disagree on where an empty match may follow another match.
        if least == 0:
            raise ValueError("the pattern must match at least one character wherever it matches")
        return value

    @field_validator("alias")
    @classmethod
    def _plain(cls, value: str) -> str:
        # So that no engine reads a group reference (`\\1`) into it.
        if "\\" in value:
            raise ValueError("plain text, without a backslash")
        return value


class PathsQuery(Spec):
    kind: Literal["paths"] = "paths"
    # Leave out the project's internal and test users (its `test_account_filters`).
    filter_test_accounts: bool = False
    include: list[PathKind] = Field(default=["pageview"], min_length=1, max_length=2)
    start_point: str | None = Field(default=None, min_length=1, max_length=2000)
    end_point: str | None = Field(default=None, min_length=1, max_length=2000)
    steps: int = Field(default=5, ge=2, le=20)
    max_nodes_per_step: int = Field(default=10, ge=1, le=100)
    min_edge_weight: int = Field(default=1, ge=1)
    date_range: DateRange = DateRange()
    filters: list[Filter] = Field(default_factory=list, max_length=50)
    path_cleaning: list[PathCleaning] = Field(default_factory=list, max_length=2 * MAX_RULES)
    # Apply the project's rules (its settings' `path_cleaning`) before these.
    project_path_cleaning: bool = True
    # Nodes (after cleaning) that are not part of any path: a session's path goes on past them.
    exclude: list[Annotated[str, Field(max_length=2000)]] = Field(
        default_factory=list, max_length=50
    )

    @field_validator("path_cleaning")
    @classmethod
    def _own_rules(cls, rules: list[PathCleaning], info: ValidationInfo) -> list[PathCleaning]:
        # Read back after `query.prepare`, the project's rules are there too.
        if new_input(info) and len(rules) > MAX_RULES:
            raise ValueError(f"at most {MAX_RULES} rules")
        return rules

    @model_validator(mode="after")
    def _one_anchor(self) -> PathsQuery:
        if self.start_point is not None and self.end_point is not None:
            raise ValueError("start_point, end_point: give one of them, or neither")
        return self


class PathNode(Spec):
    step: int
    name: str
    # Paths at this node at this step.
    count: int


class PathEdge(Spec):
    step: int  # of the source; the target is at step + 1
    source: str
    target: str
    weight: int


class PathsResult(Spec):
    kind: Literal["paths"] = "paths"
    nodes: list[PathNode]
    edges: list[PathEdge]
    cached: bool = False


class PathsPersonsQuery(PersonsPage):
    """The persons behind one edge, each with their latest session along it and the moment
    they reached its target."""

    kind: Literal["paths_persons"] = "paths_persons"
    paths: PathsQuery
    step: int = Field(ge=0, le=18)
    source: str = Field(max_length=2000)
    target: str = Field(max_length=2000)
