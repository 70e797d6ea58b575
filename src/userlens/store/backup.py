"""Backups: a copy of the whole data directory, taken while the server runs.

A backup is a folder under the backups directory, laid out as a data directory of its own
(`events.duckdb`, `metadata.sqlite3`, `blobs/`) with a `backup.json` saying what it holds.
It is written under a `.partial-` name and renamed once complete, so a folder with a plain
name is always whole. To restore one, stop the server and start it on a copy of the folder
(`restore_backup` makes that copy).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import sqlalchemy as sa

import userlens
from userlens.config import Settings
from userlens.model.backup import BackupCounts, BackupInfo, Erasure
from userlens.store.disk import MB, DiskFull, DiskGuard, statvfs_free
from userlens.store.duckdb.backup import copy_durably, count_rows
from userlens.store.duckdb.schema import LATEST, stored_version
from userlens.store.duckdb.store import DuckDBEventStore
from userlens.store.local_blobs import LocalBlobStore
from userlens.store.meta import MetaStore
from userlens.store.meta.store import (
    copy_sqlite,
    sqlite_at_head,
    sqlite_revision_behind,
)

log = logging.getLogger(__name__)

MANIFEST = "backup.json"
PARTIAL = ".partial-"
# Deletions made after a backup, still to be repeated in it: one JSON object a line. It sits
# in the backup's folder, so a copy of the folder restored by hand carries it too, and the
# server started on that copy applies it before anything else (`pending_erasures`).
ERASURES = "pending-erasures.jsonl"


def make_backup(
    events: DuckDBEventStore,
    meta: MetaStore,
    blobs: LocalBlobStore,
    backups_dir: Path,
    *,
    now: datetime,
    keep: int,
) -> BackupInfo:
    """Back everything up into a new folder of `backups_dir`, then delete the oldest
    backups beyond the newest `keep`. The event store's copy is one moment's; the metadata's
    is taken just after it, and the recordings' files are those the copy points at."""

    def fill(folder: Path) -> tuple[BackupCounts, bool]:
        copied_blobs = LocalBlobStore(folder / "blobs")
        counts = events.backup_to(
            folder / "events.duckdb",
            copy_blobs=lambda keys: blobs.link_into(copied_blobs, keys),
        )
        return counts, meta.backup_to(folder / "metadata.sqlite3")

    return _write(backups_dir, _stamp(now), now, keep, fill)


def back_up_closed_stores(
    data_dir: Path, metadata: Path | None, backups_dir: Path, *, now: datetime, keep: int
) -> BackupInfo:
    """Back up a data directory whose stores nobody has open (before start-up migrates them):
    its files as they are, into a folder named `<time>-before-upgrade`. `metadata` is the
    SQLite file (None when the metadata is elsewhere)."""

    def fill(folder: Path) -> tuple[BackupCounts, bool]:
        _copy_closed_stores(data_dir, metadata, folder)
        counts = (
            count_rows(folder / "events.duckdb")
            if (folder / "events.duckdb").exists()
            else BackupCounts(events=0, persons=0, recorded_sessions=0, recording_chunks=0)
        )
        return counts, metadata is not None

    return _write(backups_dir, _stamp(now) + "-before-upgrade", now, keep, fill)


def _copy_closed_stores(source: Path, metadata: Path | None, target: Path) -> None:
    """Copy the stores of a data directory (or backup folder) `source` that nobody has open
    into the folder `target`: the event store's files and the SQLite `metadata` copied,
    fsynced; the recording files hard-linked (they are never changed in place; copied across
    file systems)."""
    for name in ("events.duckdb", "events.duckdb.wal"):
        if (source / name).exists():
            copy_durably(source / name, target / name)
    if metadata is not None:
        connection = sqlite3.connect(metadata)
        try:
            copy_sqlite(connection, target / "metadata.sqlite3")
        finally:
            connection.close()
    blobs = LocalBlobStore(source / "blobs")
    missing = blobs.link_into(LocalBlobStore(target / "blobs"), blobs.list("recordings/"))
    if missing:  # nothing runs: no blob can go while they are linked
        raise FileNotFoundError(f"recording files vanished while copied: {missing[:3]}")


def restore_backup(folder: Path, into: Path) -> None:
    """Make a new data directory `into` (absent, or an empty directory) from the backup
    folder `folder`, which nobody may be changing (the server that owns it is stopped): its
    stores copied, its recording files linked, and its list of deletions still to repeat
    kept, which the server started on `into` repeats before anything else. The backup itself
    is left as it was. Written under a hidden name beside `into`, then renamed: `into` is
    whole or absent."""
    if into.exists() and (not into.is_dir() or any(into.iterdir())):
        raise FileExistsError(f"{into} exists and is not an empty directory")
    into.parent.mkdir(parents=True, exist_ok=True)
    partial = into.parent / f"{PARTIAL}restore-{into.name}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        sqlite_file = folder / "metadata.sqlite3"
        _copy_closed_stores(folder, sqlite_file if sqlite_file.exists() else None, partial)
        if (folder / ERASURES).exists():
            copy_durably(folder / ERASURES, partial / ERASURES)
        _fsync_dir(partial)
        if into.exists():
            into.rmdir()
        os.rename(partial, into)
        _fsync_dir(into.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def back_up_before_upgrade(settings: Settings, now: datetime) -> BackupInfo | None:
    """If this version is about to migrate the data directory's schemas (the event store's or
    the SQLite metadata's), back the directory up first, as it is; None when nothing is to
    migrate (a fresh or current directory), or when the disk has no room for a copy (then
    the upgrade goes on, and says so)."""
    version = stored_version(settings.events_db_path)
    behind = sqlite_revision_behind(settings.metadata_url)
    if (version is None or version >= LATEST) and behind is None:
        return None
    sqlite_file = _sqlite_file(settings)
    guard = DiskGuard(statvfs_free(settings.data_dir), settings.min_free_disk_mb * MB)
    try:
        guard.make_room_for(copied_size(settings), "a backup before upgrading the schema")
    except DiskFull as exc:
        log.warning("upgrading without a backup: %s", exc.detail)
        return None
    made = back_up_closed_stores(
        settings.data_dir, sqlite_file, settings.backups_dir, now=now, keep=settings.backup_keep
    )
    log.info(
        "backed up the data directory before upgrading its schema (events at version %s, "
        "metadata at revision %s): %s",
        version,
        behind or "current",
        settings.backups_dir / made.name,
    )
    return made


def copied_size(settings: Settings) -> int:
    """Bytes a backup copies (the event store's files and the SQLite metadata); recordings
    are linked."""
    files = [
        settings.events_db_path,
        Path(f"{settings.events_db_path}.wal"),
        _sqlite_file(settings),
    ]
    return sum(f.stat().st_size for f in files if f is not None and f.exists())


def _sqlite_file(settings: Settings) -> Path | None:
    """The metadata's SQLite file, if it is in one that exists."""
    url = sa.make_url(settings.metadata_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    path = Path(url.database)
    return path if path.exists() else None


def _write(
    backups_dir: Path,
    base_name: str,
    now: datetime,
    keep: int,
    fill: Callable[[Path], tuple[BackupCounts, bool]],
) -> BackupInfo:
    """Make a folder, have `fill` write into it, describe it, name it, prune the oldest."""
    backups_dir.mkdir(parents=True, exist_ok=True)
    for stale in backups_dir.glob(PARTIAL + "*"):  # a backup cut short by a crash
        shutil.rmtree(stale, ignore_errors=True)
    name = _free_name(backups_dir, base_name)
    partial = backups_dir / (PARTIAL + name)
    partial.mkdir()
    started = time.monotonic()
    try:
        counts, with_metadata = fill(partial)
        info = BackupInfo(
            name=name,
            created_at=now,
            seconds=round(time.monotonic() - started, 3),
            events=counts.events,
            persons=counts.persons,
            recorded_sessions=counts.recorded_sessions,
            recording_chunks=counts.recording_chunks,
            metadata=with_metadata,
            bytes=_size(partial),
            version=userlens.__version__,
        )
        _write_durably(partial / MANIFEST, orjson.dumps(manifest(info), option=orjson.OPT_INDENT_2))
        os.rename(partial, backups_dir / name)
        _fsync_dir(backups_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    for old in list_backups(backups_dir)[keep:]:
        shutil.rmtree(backups_dir / old.name, ignore_errors=True)
    return info


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")


def list_backups(backups_dir: Path) -> list[BackupInfo]:
    """The finished backups in `backups_dir`, newest first (folders without a readable
    `backup.json` are not backups and are left out)."""
    found: list[BackupInfo] = []
    if not backups_dir.is_dir():
        return found
    for folder in backups_dir.iterdir():
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            info = _parse(folder.name, orjson.loads((folder / MANIFEST).read_bytes()))
            pending = 0
            with contextlib.suppress(OSError):
                pending = len(pending_erasures(folder).erasures)
            found.append(dataclasses.replace(info, pending_erasures=pending))
    return sorted(found, key=lambda b: (b.created_at, b.name), reverse=True)


def manifest(info: BackupInfo) -> dict[str, object]:
    """What `backup.json` says of a backup (its folder's name aside)."""
    return {
        "created_at": info.created_at.isoformat(),
        "seconds": info.seconds,
        "events": info.events,
        "persons": info.persons,
        "recorded_sessions": info.recorded_sessions,
        "recording_chunks": info.recording_chunks,
        "metadata": info.metadata,
        "bytes": info.bytes,
        "version": info.version,
    }


def _parse(name: str, raw: dict[str, object]) -> BackupInfo:
    def number(key: str) -> int:
        value = raw[key]
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(key)
        return value

    seconds = raw["seconds"]
    if not isinstance(seconds, int | float):
        raise TypeError("seconds")
    return BackupInfo(
        name=name,
        created_at=datetime.fromisoformat(str(raw["created_at"])),
        seconds=float(seconds),
        events=number("events"),
        persons=number("persons"),
        recorded_sessions=number("recorded_sessions"),
        recording_chunks=number("recording_chunks"),
        metadata=bool(raw["metadata"]),
        bytes=number("bytes"),
        version=str(raw["version"]),
    )


def record_erasure(backups_dir: Path, erasure: Erasure) -> int:
    """Note in every finished backup that it must repeat a deletion the live stores have
    just made (durably, before this returns); returns how many backups. Called with no backup
    being written (a backup's copy from before the deletion is finished and listed, one from
    after it lacks what went)."""
    # A line of its own even after one a crash cut short (which then reads as no deletion).
    line = (
        b"\n"
        + orjson.dumps({"project_id": erasure.project_id, "distinct_ids": erasure.distinct_ids})
        + b"\n"
    )
    backups = list_backups(backups_dir)
    for backup in backups:
        path = backups_dir / backup.name / ERASURES
        with open(path, "ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        if path.stat().st_size == len(line):  # just created: its name must last too
            _fsync_dir(path.parent)
    return len(backups)


@dataclasses.dataclass(frozen=True, slots=True)
class Pending:
    """A folder's pending deletions, and how many lines of its list they were read from."""

    erasures: list[Erasure]
    lines: int


def pending_erasures(folder: Path) -> Pending:
    """The deletions a backup (or a data directory restored from one) must still repeat, in
    the order they were made. A line cut short by a crash is not one."""
    try:
        lines = (folder / ERASURES).read_bytes().split(b"\n")
    except FileNotFoundError:
        return Pending([], 0)
    found: list[Erasure] = []
    for line in lines:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            raw = orjson.loads(line)
            ids = raw["distinct_ids"]
            if not isinstance(raw["project_id"], int) or not all(isinstance(i, str) for i in ids):
                raise TypeError("not an erasure")
            found.append(Erasure(project_id=raw["project_id"], distinct_ids=tuple(ids)))
    return Pending(found, len(lines))


def drop_erasures(folder: Path, lines: int) -> None:
    """Forget the first `lines` lines of a folder's pending deletions, those just applied;
    any noted since stay (durably either way)."""
    path = folder / ERASURES
    try:
        rest = path.read_bytes().split(b"\n")[lines:]
    except FileNotFoundError:
        return
    if any(rest):
        _write_durably(path.with_suffix(".tmp"), b"\n".join(rest))
        os.replace(path.with_suffix(".tmp"), path)
    else:
        path.unlink()
    _fsync_dir(folder)


def opens_here(folder: Path) -> bool:
    """Whether this version can open a backup's stores as they are, without migrating them (a
    backup before an upgrade must stay as the old version left it)."""
    if stored_version(folder / "events.duckdb") != LATEST:
        return False
    sqlite_file = folder / "metadata.sqlite3"
    return not sqlite_file.exists() or sqlite_at_head(f"sqlite:///{sqlite_file}")


def recount(folder: Path) -> None:
    """Bring a backup's `backup.json` up to date with what it holds now (after deletions)."""
    path = folder / MANIFEST
    raw = orjson.loads(path.read_bytes())
    counts = count_rows(folder / "events.duckdb")
    raw.update(dataclasses.asdict(counts))
    raw["bytes"] = _size(folder)
    _write_durably(path, orjson.dumps(raw, option=orjson.OPT_INDENT_2))


def _free_name(folder: Path, base: str) -> str:
    name, n = base, 1
    while (folder / name).exists() or (folder / (PARTIAL + name)).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
