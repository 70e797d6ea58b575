"""How much room is left on the data directory's disk, and what is refused when it runs low.

A full disk is the one failure that takes everything down at once: the write-ahead log cannot
append, DuckDB cannot checkpoint (and then refuses every statement until a restart), and
recordings cannot be written. So capture stops before the disk is full, and recordings, which
are large, stop first: below twice the margin, recordings are refused; below the margin,
events too. Refused requests get 503 with `Retry-After`, so SDKs keep them and send them again
once there is room; nothing acknowledged is ever lost.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from userlens.errors import Backpressure

MB = 1024 * 1024
CHECK_EVERY_S = 1.0  # free space is read at most this often
RETRY_AFTER_S = 60
RECORDINGS_FACTOR = 2  # recordings stop at this many times the margin


class DiskFull(Backpressure):
    """Too little room left on the data directory's disk for what was sent."""


def statvfs_free(path: Path) -> Callable[[], int]:
    """Bytes free for this process on `path`'s file system."""

    def free() -> int:
        stats = os.statvfs(path)
        return stats.f_bavail * stats.f_frsize

    return free


class DiskGuard:
    """The free space of one file system, read at most once a second, against a margin that
    must stay free (`min_free_bytes`; 0 turns the guard off)."""

    def __init__(
        self,
        free_bytes: Callable[[], int],
        min_free_bytes: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free_bytes = free_bytes
        self.min_free_bytes = min_free_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._free = 0

    def free(self) -> int:
        """Bytes free now (as of at most a second ago)."""
        with self._lock:
            now = self._clock()
            if now - self._read_at >= CHECK_EVERY_S:
                self._free = self._free_bytes()
                self._read_at = now
            return self._free

    def refused(self) -> str | None:
        """What capture refuses now for want of room: "events and recordings", or
        "recordings" alone, or None."""
        if not self.min_free_bytes:
            return None
        free = self.free()
        if free < self.min_free_bytes:
            return "events and recordings"
        if free < self.min_free_bytes * RECORDINGS_FACTOR:
            return "recordings"
        return None

    def check(self, recordings: bool = False) -> None:
        """Raise `DiskFull` if a request of this kind must wait for room."""
        if not self.min_free_bytes:
            return
        free = self.free()
        need = self.min_free_bytes * (RECORDINGS_FACTOR if recordings else 1)
        if free < need:
            what = "recordings" if recordings else "events"
            raise DiskFull(
                RETRY_AFTER_S,
                f"the server's disk is nearly full ({free // MB} MB free; {what} are taken "
                f"while {need // MB} MB stay free): retry later",
            )

    def make_room_for(self, size: int, what: str) -> None:
        """Raise `DiskFull` unless writing `size` more bytes leaves the margin free."""
        free = self.free_now()
        if free - size < self.min_free_bytes:
            raise DiskFull(
                RETRY_AFTER_S,
                f"not enough free disk for {what}: it needs about {size // MB} MB, "
                f"{free // MB} MB are free and {self.min_free_bytes // MB} MB must stay free",
            )

    def free_now(self) -> int:
        """Bytes free, read now."""
        with self._lock:
            self._free = self._free_bytes()
            self._read_at = self._clock()
            return self._free
