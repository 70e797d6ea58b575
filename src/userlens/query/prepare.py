"""Make a spec from the API ready to run: put in the project's test-account filters when it
asks to leave those users out, the project's page groups before a paths spec's own (unless it
opts out), and each cohort filter's definition (a saved cohort's, by id),
with its did_event rules' start counted back from now (to the minute, so that answers can be
cached for that minute)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

from userlens.errors import InvalidInput
from userlens.model.filters import FILTER_LIST, CohortDefinition, Filter
from userlens.model.ids import STORED
from userlens.model.paths import PathCleaning

S = TypeVar("S", bound=BaseModel)
Lookup = Callable[[int], CohortDefinition | None]


def prepare(
    spec: S,
    *,
    cohorts: Lookup,
    test_filters: Sequence[Filter],
    now: datetime,
    path_rules: Sequence[PathCleaning] = (),
) -> S:
    data = spec.model_dump(mode="python")
    extra = FILTER_LIST.dump_python(list(test_filters), mode="python")
    since = now.astimezone(UTC).replace(second=0, microsecond=0)
    _walk(data, extra, cohorts, since)
    if path_rules:
        _group_pages(data, [r.model_dump(mode="python") for r in path_rules])
    # Read back as stored: the spec was checked when it came in, and what was put in (saved
    # cohorts, the project's test-account filters) was checked when it was saved.
    return type(spec).model_validate(data, context=STORED)


def _walk(
    node: Any, extra: list[Any], cohorts: Lookup, now: datetime, field: str = "filters"
) -> None:
    """Resolve every cohort filter under `node`; `field` is the spec field it sits in (for
    errors)."""
    if isinstance(node, list):
        for item in node:
            _walk(item, extra, cohorts, now, field)
        return
    if not isinstance(node, dict):
        return
    if node.get("filter_test_accounts"):
        node["filters"] = [*node.get("filters", []), *extra]
    if node.get("type") == "cohort" and "negate" in node:
        _resolve(node, cohorts, now, field)
        return
    for key, value in node.items():
        _walk(value, extra, cohorts, now, key if key in _FIELDS else field)


def _group_pages(node: Any, rules: list[Any]) -> None:
    """Put the project's page groups before those of every paths spec under `node` that
    applies them."""
    if isinstance(node, list):
        for item in node:
            _group_pages(item, rules)
    elif isinstance(node, dict):
        if node.get("kind") == "paths" and node.get("project_path_cleaning"):
            node["path_cleaning"] = [*rules, *node.get("path_cleaning", [])]
        for value in node.values():
            _group_pages(value, rules)


# The spec fields that hold cohort filters, as errors name them.
_FIELDS = frozenset({"filters", "breakdown_cohorts"})


def _resolve(node: dict[str, Any], cohorts: Lookup, now: datetime, field: str) -> None:
    cohort_id = node.get("cohort_id")
    if cohort_id is not None:
        definition = cohorts(cohort_id)
        if definition is None:
            raise InvalidInput(f"{field}: there is no cohort {cohort_id} in this project")
        node["definition"] = definition.model_dump(mode="python")
    for rule in node["definition"].get("rules", []):
        if rule.get("kind") == "did_event":
            rule["since"] = now - timedelta(days=rule["days"])
