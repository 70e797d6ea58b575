"""What the store tests share."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
