"""What the store tests share."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from userlens.model.event import CapturedEvent
from userlens.store.duckdb import DuckDBEventStore


class BatchSizes(DuckDBEventStore):
    """The real store, noting the size of the properties (as JSON) in each batch it writes."""

    def __init__(self, path: Path, **options: Any) -> None:
        super().__init__(path, **options)
        self.sizes: list[int] = []

    def write(self, events: Sequence[CapturedEvent], chunks: Sequence[Any] = ()) -> Any:
        self.sizes.append(sum(len(e.properties_json) for e in events))
        return super().write(events, chunks)


class FailingWrites(DuckDBEventStore):
    """The real store, whose first `failures` writes fail as a lost disk would make them."""

    def __init__(self, path: Path, *, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    def write(self, events: Sequence[CapturedEvent], chunks: Sequence[Any] = ()) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise duckdb.IOException("disk went away")
        return super().write(events, chunks)
