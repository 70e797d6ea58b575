"""Write-ahead log: encoded event batches in append-only segment files, written durably in groups.

Segments are opened with `O_DSYNC`: a write returns once its bytes (and the file size that
makes them readable) are on disk, so one system call both appends a group and makes it durable.
Capture acknowledges an event once its batch is in the log that way; the
loader moves logged events into the event store in large transactions and records how far it
got in a checkpoint file. On start, everything after the checkpoint is loaded again; the
store's (project, uuid) deduplication makes that replay harmless.

A record is a 4-byte length, a 4-byte CRC-32 and the payload. A crash can leave a torn record
at the end of the newest segment; reading stops there and the segment is cut back to the last
whole record. A write that fails part-way (a full disk, an I/O error) is cut back at once, and
after an fsync fails the log goes on in a new segment, so that records logged afterwards stay
readable.
"""

from __future__ import annotations

import binascii
import contextlib
import dataclasses
import logging
import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

HEADER = struct.Struct("<II")
SEGMENT_SUFFIX = ".wal"
CHECKPOINT = "checkpoint"
MAX_RECORD = 1 << 30


@dataclasses.dataclass(frozen=True, order=True, slots=True)
class Position:
    """Just after a record: segment number and byte offset in it."""

    segment: int
    offset: int


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentLog:
    """The log files of one data directory. Appends come from one thread at a time."""

    def __init__(self, directory: Path, *, segment_bytes: int = 64 * 1024 * 1024) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._segment_bytes = segment_bytes
        existing = self.segments()
        if existing:
            self._repair(existing[-1])
        self._segment = existing[-1] if existing else 1
        self._file: BinaryIO = self._open(self._segment)
        self._size = os.fstat(self._file.fileno()).st_size
        self._suspect = False  # an fsync of this segment failed: append to a new one

    def segments(self) -> list[int]:
        return sorted(
            int(p.stem) for p in self.directory.glob(f"*{SEGMENT_SUFFIX}") if p.stem.isdigit()
        )

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:012d}{SEGMENT_SUFFIX}"

    def _open(self, segment: int) -> BinaryIO:
        created = not self._path(segment).exists()
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_DSYNC
        handle = os.fdopen(os.open(self._path(segment), flags, 0o644), "ab", buffering=0)
        if created:
            _fsync_dir(self.directory)
        return handle

    def _repair(self, segment: int) -> None:
        """Cut a torn record off the end of the newest segment."""
        end = 0
        for pos, _ in self._records(segment, 0):
            end = pos.offset
        path = self._path(segment)
        if path.stat().st_size != end:
            log.warning("cutting a torn record off %s at byte %d", path.name, end)
            with path.open("r+b") as handle:
                handle.truncate(end)
                handle.flush()
                os.fsync(handle.fileno())

    def append(self, payload: bytes) -> Position:
        """Write one record; it is durable once this returns."""
        return self.append_many([payload])[0]

    def append_many(self, payloads: Sequence[bytes]) -> list[Position]:
        """Write several records with one system call; they are durable once this returns.

        The server's other threads keep the interpreter busy, and a thread that gives it up
        for a system call waits to get it back. One write for a whole group, rather than one
        or two per record and an fsync after them, keeps the group commit from queueing
        behind them; for the same reason the checksum is `binascii.crc32`, which does not give
        the interpreter up the way `zlib.crc32` does for large buffers (both compute the same
        CRC-32).
        """
        if self._suspect:
            self._leave_segment()
        buffer = bytearray()
        positions: list[Position] = []
        size = self._size
        for payload in payloads:
            buffer += HEADER.pack(len(payload), binascii.crc32(payload))
            buffer += payload
            size += HEADER.size + len(payload)
            positions.append(Position(self._segment, size))
        try:
            view = memoryview(buffer)
            while view:  # an unbuffered write may take less than all (the disk filling up)
                view = view[self._file.write(view) :]
        except BaseException:
            # Part of the group may be in the file (a full disk, say). Cut it off, or records
            # appended after it would sit behind a torn one, where reading stops.
            self._cut_back()
            raise
        self._size = size
        if self._size >= self._segment_bytes:
            self.rotate()
        return positions

    def _cut_back(self) -> None:
        """Reopen the current segment at the end of its last whole record."""
        with contextlib.suppress(OSError, ValueError):
            self._file.close()  # flushing what it buffered may fail again: it is cut anyway
        path = self._path(self._segment)
        # Never extend the file: if less than `_size` reached it, end at what did.
        self._size = min(self._size, path.stat().st_size)
        os.truncate(path, self._size)
        self._file = self._open(self._segment)

    def rotate(self) -> int:
        """Start a new segment; return the number of the one just closed."""
        self.sync()
        self._file.close()
        closed = self._segment
        self._segment += 1
        self._file = self._open(self._segment)
        self._size = 0
        return closed

    def sync(self) -> None:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError:
            # After a failed fsync the kernel may have dropped pages it could not write, and a
            # later fsync can succeed without them. Records appended behind them in this
            # segment would then be unreadable after a crash: the next group starts a new one.
            self._suspect = True
            raise

    def _leave_segment(self) -> None:
        """Go on in a new segment without syncing this one (its fsync failed)."""
        with contextlib.suppress(OSError, ValueError):
            self._file.close()
        self._file = self._open(self._segment + 1)
        self._segment += 1
        self._size = 0
        self._suspect = False

    def _records(self, segment: int, start: int) -> Iterator[tuple[Position, bytes]]:
        try:
            handle = self._path(segment).open("rb")
        except FileNotFoundError:
            return
        with handle:
            handle.seek(start)
            offset = start
            while True:
                header = handle.read(HEADER.size)
                if len(header) < HEADER.size:
                    return
                length, crc = HEADER.unpack(header)
                if not 0 < length <= MAX_RECORD:  # no record is empty: zeros are not a record
                    return
                payload = handle.read(length)
                if len(payload) < length or binascii.crc32(payload) != crc:
                    return
                offset += HEADER.size + length
                yield Position(segment, offset), payload

    def read_after(self, start: Position) -> Iterator[tuple[Position, bytes]]:
        """Every whole record after `start`, in order."""
        for segment in self.segments():
            if segment < start.segment:
                continue
            yield from self._records(segment, start.offset if segment == start.segment else 0)

    def drop_before(self, position: Position) -> None:
        """Delete segments wholly before `position` (their records are all loaded)."""
        for segment in self.segments():
            if segment < position.segment and segment != self._segment:
                with contextlib.suppress(FileNotFoundError):
                    self._path(segment).unlink()

    def read_checkpoint(self) -> Position:
        try:
            text = (self.directory / CHECKPOINT).read_text(encoding="ascii").split()
            return Position(int(text[0]), int(text[1]))
        except (FileNotFoundError, IndexError, ValueError):
            return Position(0, 0)

    def write_checkpoint(self, position: Position) -> None:
        """Record that everything up to `position` is in the store (atomic replace)."""
        tmp = self.directory / (CHECKPOINT + ".tmp")
        with tmp.open("w", encoding="ascii") as handle:
            handle.write(f"{position.segment} {position.offset}\n")
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.directory / CHECKPOINT)

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()
