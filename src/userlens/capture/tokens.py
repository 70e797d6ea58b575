"""Project lookup by capture token, cached so the hot path rarely touches the database."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio.to_thread

from userlens.model.project import Project

POSITIVE_TTL_S = 60.0
NEGATIVE_TTL_S = 2.0
MAX_ENTRIES = 10_000


class TokenCache:
    """Maps capture tokens to projects through `lookup`, run in a worker thread on a miss.

    Unknown tokens are remembered only briefly, so a project created a moment ago (from the
    CLI, say) starts accepting events within seconds.
    """

    def __init__(
        self,
        lookup: Callable[[str], Project | None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._clock = clock
        self._entries: dict[str, tuple[Project | None, float]] = {}

    async def project(self, token: str) -> Project | None:
        now = self._clock()
        hit = self._entries.get(token)
        if hit is not None and hit[1] > now:
            return hit[0]
        found = await anyio.to_thread.run_sync(self._lookup, token)
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        ttl = POSITIVE_TTL_S if found is not None else NEGATIVE_TTL_S
        self._entries[token] = (found, now + ttl)
        return found

    async def project_id(self, token: str) -> int | None:
        found = await self.project(token)
        return found.id if found else None

    def forget(self, token: str) -> None:
        self._entries.pop(token, None)
