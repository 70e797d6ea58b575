"""Project lookup by capture token, cached so the hot path rarely touches the database."""

from __future__ import annotations

import asyncio
import functools
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
    CLI, say) starts accepting events within seconds. Concurrent misses for one token share a
    single lookup: a burst of requests from a new project costs one query and one thread.
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
        self._pending: dict[str, asyncio.Future[Project | None]] = {}  # lookups under way

    async def project(self, token: str) -> Project | None:
        now = self._clock()
        hit = self._entries.get(token)
        if hit is not None and hit[1] > now:
            return hit[0]
        task = self._pending.get(token)
        if task is None:
            task = asyncio.ensure_future(anyio.to_thread.run_sync(self._lookup, token))
            self._pending[token] = task
            task.add_done_callback(functools.partial(self._settled, token, now))
        # Shielded: a caller that goes away does not cancel the lookup the others wait for.
        return await asyncio.shield(task)

    def _settled(self, token: str, now: float, task: asyncio.Future[Project | None]) -> None:
        """Cache a finished lookup (this runs before its waiters resume)."""
        failed = task.cancelled() or task.exception() is not None
        if self._pending.get(token) is not task:
            return  # forgotten while it ran: keep nothing of it
        del self._pending[token]
        if failed:
            return
        found = task.result()
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        ttl = POSITIVE_TTL_S if found is not None else NEGATIVE_TTL_S
        self._entries[token] = (found, now + ttl)

    async def project_id(self, token: str) -> int | None:
        found = await self.project(token)
        return found.id if found else None

    def forget(self, token: str) -> None:
        """Drop what is known of `token`: the next request looks it up afresh."""
        self._entries.pop(token, None)
        self._pending.pop(token, None)
