"""Ids of saved things (projects, cohorts, insights, dashboards, users, tokens) as the API takes
them, and how checks added over time treat what was stored before them.

Ids are positive 64-bit integers, as SQL stores them, so that a longer number is refused with a
400 instead of reaching the database. Specs, filters and cohorts read back from the metadata
store are validated with the `STORED` context: checks that new input must pass (like this one)
let them through as they were saved, so that tightening a check never makes a saved insight
unreadable. Running such a spec then says what is wrong with it."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationInfo

MAX_ID = 2**63 - 1
STORED: Mapping[str, Any] = MappingProxyType({"stored": True})


def new_input(info: ValidationInfo) -> bool:
    """Whether a validator checks new input, as opposed to a value read back from storage."""
    context = info.context
    return not (isinstance(context, Mapping) and context.get("stored"))


def _in_range(value: int, info: ValidationInfo) -> int:
    if new_input(info) and not 1 <= value <= MAX_ID:
        raise ValueError(f"an id is a whole number from 1 to {MAX_ID}")
    return value


Id = Annotated[int, AfterValidator(_in_range), Field(json_schema_extra={"minimum": 1})]
