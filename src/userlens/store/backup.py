"""Backups: a copy of the whole data directory, taken while the server runs.

A backup is a folder under the backups directory, laid out as a data directory of its own
(`events.duckdb`, `metadata.sqlite3`, `blobs/`) with a `backup.json` saying what it holds.
It is written under a `.partial-` name and renamed once complete, so a folder with a plain
name is always whole. To restore one, stop the server and start it on a copy of the folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from datetime import datetime
from pathlib import Path

import orjson

import userlens
from userlens.model.backup import BackupInfo
from userlens.store.duckdb.store import DuckDBEventStore
from userlens.store.local_blobs import LocalBlobStore
from userlens.store.meta import MetaStore

MANIFEST = "backup.json"
PARTIAL = ".partial-"


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
    backups_dir.mkdir(parents=True, exist_ok=True)
    for stale in backups_dir.glob(PARTIAL + "*"):  # a backup cut short by a crash
        shutil.rmtree(stale, ignore_errors=True)
    name = _free_name(backups_dir, now.strftime("%Y-%m-%dT%H-%M-%SZ"))
    partial = backups_dir / (PARTIAL + name)
    partial.mkdir()
    started = time.monotonic()
    try:
        copied_blobs = LocalBlobStore(partial / "blobs")
        counts = events.backup_to(
            partial / "events.duckdb",
            copy_blobs=lambda keys: blobs.link_into(copied_blobs, keys),
        )
        with_metadata = meta.backup_to(partial / "metadata.sqlite3")
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
            found.append(_parse(folder.name, orjson.loads((folder / MANIFEST).read_bytes())))
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
