"""The cache of insight answers, one per server."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

from userlens.model.queries import InsightResult

CacheKey = tuple[int, str, str, int, datetime]


class ResultCache:
    """Results by (project, spec, time zone, data version, minute): a new event, or a minute
    passing (which moves relative date ranges and active-user windows), makes a new entry."""

    def __init__(self, size: int = 512) -> None:
        self._entries: OrderedDict[CacheKey, InsightResult] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> InsightResult | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: CacheKey, result: InsightResult) -> None:
        with self._lock:
            self._entries[key] = result
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def forget_project(self, project_id: int) -> None:
        """Drop a project's answers (after a deletion: they may name whoever went)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == project_id]:
                del self._entries[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
