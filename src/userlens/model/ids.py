"""Ids of saved things (projects, cohorts, insights, dashboards, users, tokens) as the API takes
them: positive 64-bit integers, as SQL stores them, so that a longer number is refused with a
400 instead of reaching the database."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_ID = 2**63 - 1

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
