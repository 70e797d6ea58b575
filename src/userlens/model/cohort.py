"""Saved cohorts: a named set of persons that insights filter on and break down by."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from userlens.model.filters import CohortDefinition, Spec
from userlens.model.queries import PersonsQuery


class CohortIn(Spec):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    definition: CohortDefinition


class CohortFromPersons(Spec):
    """A list cohort of the persons a drill-down finds now (all of them, not one page): their
    distinct ids, kept as they are when the insight later changes."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    persons: PersonsQuery


class CohortPatch(Spec):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    definition: CohortDefinition | None = None


class Cohort(Spec):
    id: int
    project_id: int
    name: str
    description: str
    definition: CohortDefinition
    created_at: datetime
    updated_at: datetime
