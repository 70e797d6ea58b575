"""Opening and closing everything the server holds: stores, the writer, the enricher."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from userlens.capture.enrich import Enricher
from userlens.capture.tokens import TokenCache
from userlens.config import Settings
from userlens.errors import (
    Backpressure,
    Busy,
    InvalidInput,
    NotFound,
    StoreUnavailable,
    UserlensError,
    first_line,
)
from userlens.model.admin import AdminAction
from userlens.model.backup import BackupInfo, Erasure
from userlens.model.recording import PersonDeletion, ProjectDeletion
from userlens.replay.compaction import compact_recordings
from userlens.replay.recordings import delete_person, delete_project_data
from userlens.store.backup import (
    back_up_before_upgrade,
    copied_size,
    drop_erasures,
    list_backups,
    make_backup,
    opens_here,
    pending_erasures,
    record_erasure,
    recount,
)
from userlens.store.blobs import BlobStore
from userlens.store.disk import DiskGuard, statvfs_free
from userlens.store.duckdb import DuckDBEventStore
from userlens.store.events import EventStore
from userlens.store.local_blobs import LocalBlobStore
from userlens.store.meta import MetaStore
from userlens.store.wal import SegmentLog
from userlens.store.writer import BatchWriter, recover
from userlens.web.cache import ResultCache

log = logging.getLogger(__name__)

DELETION_WAIT_S = 60.0  # how long a deletion or a backup waits for queued events to reach the store


def command_error(exc: BaseException) -> str | None:
    """What a command's user reads for an error `Services.carry_out` expects (a missing
    project, a busy or failed backup, a store that could not finish); None for any other."""
    if isinstance(exc, Backpressure):  # no room on the disk for a backup
        return exc.detail
    if isinstance(exc, UserlensError):
        return str(exc)
    return None


def wall_clock_us() -> int:
    return time.time_ns() // 1000


@dataclasses.dataclass
class Services:
    settings: Settings
    meta: MetaStore
    events: EventStore
    writer: BatchWriter
    blobs: BlobStore
    enricher: Enricher
    now_us: Callable[[], int]
    disk: DiskGuard
    tokens: TokenCache = dataclasses.field(init=False)
    insight_cache: ResultCache = dataclasses.field(default_factory=ResultCache)
    _backing_up: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    _compacting: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    # Held while a backup is written and pruned, while a deletion is noted in the backups, and
    # while the deletions applied to a backup are taken off its list: each sees the backups
    # directory whole.
    _backups: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.tokens = TokenCache(self.meta.project_by_token)

    def back_up(self) -> BackupInfo:
        """Back the whole data directory up into a new folder of the backups directory (see
        `userlens.store.backup`) and prune the oldest. Raises `Busy` while another runs."""
        events, blobs = self.events, self.blobs
        if not isinstance(events, DuckDBEventStore) or not isinstance(blobs, LocalBlobStore):
            raise InvalidInput(
                "backups copy the embedded stores; back an external store up with its own tools"
            )
        if not self._backing_up.acquire(blocking=False):
            raise Busy("a backup is already running")
        try:
            self._room_for_backup()
            # What was acknowledged before the backup began belongs in it. If the store is slow
            # to take it, the backup goes on: it is whole all the same, only a moment older.
            if not self.writer.flush(DELETION_WAIT_S):
                log.warning("backing up before every acknowledged event was loaded")
            # Compaction replaces a recording's chunk files: not while they are being linked.
            with self._compacting, self._backups:
                return make_backup(
                    events,
                    self.meta,
                    blobs,
                    self.settings.backups_dir,
                    now=self.now(),
                    keep=self.settings.backup_keep,
                )
        finally:
            self._backing_up.release()

    def back_up_if_due(self) -> BackupInfo | None:
        """Back up if the newest backup is `backup_interval_s` old or more (or there is none);
        the new backup, or None."""
        newest = list_backups(self.settings.backups_dir)
        due = self.now() - timedelta(seconds=self.settings.backup_interval_s)
        if newest and newest[0].created_at > due:
            return None
        return self.back_up()

    def _room_for_backup(self) -> None:
        """Raise `DiskFull` unless the backup's copies (the event store's files and the
        metadata; recordings are linked) fit on its disk with the margin left free."""
        settings = self.settings
        size = copied_size(settings)
        folder = settings.backups_dir
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        if existing.stat().st_dev == settings.data_dir.stat().st_dev:
            self.disk.make_room_for(size, "a backup")
        else:  # another file system: the recordings are copied, not linked
            size += self.blobs.size("recordings/")
            DiskGuard(statvfs_free(existing), self.disk.min_free_bytes).make_room_for(
                size, "a backup"
            )

    def compact_recordings(self) -> int:
        """Compact the recordings that are over (see `userlens.replay.compaction`)."""
        with self._compacting:
            return compact_recordings(
                self.events,
                self.blobs,
                self.meta.projects(),
                self.now(),
                idle=timedelta(seconds=self.settings.compact_after_s),
            )

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_us() / 1_000_000, tz=UTC)

    def erase_person(
        self, project_id: int, distinct_id: str, *, wait_s: float | None = None
    ) -> PersonDeletion:
        """Delete a person's events, person record and recordings, their distinct ids from the
        project's list cohorts, and the write-ahead log's copies of their events; note the
        deletion in the backups made before it. Raises `StoreUnavailable` when the events
        still queued for the store cannot be loaded within `wait_s` (then nothing is deleted),
        or when the log cannot be purged or the backups told afterwards (then the store is
        clean and a second call finishes).
        `wait_s` defaults to `DELETION_WAIT_S`."""
        wait_s = DELETION_WAIT_S if wait_s is None else wait_s
        # Acknowledged events of this person still on their way must be deleted too.
        self._flush_for_deletion(wait_s)
        done = delete_person(self.events, self.blobs, project_id, distinct_id)
        self.meta.forget_distinct_ids(project_id, done.distinct_ids)
        self.insight_cache.forget_project(project_id)
        if not self._note_in_backups(Erasure(project_id, done.distinct_ids)):
            raise StoreUnavailable(
                "the person was deleted, but the backups could not be told to delete them too; "
                "try again"
            )
        self._purge_log(wait_s, "the person", "their")
        return done

    def erase_project(self, project_id: int, *, wait_s: float | None = None) -> ProjectDeletion:
        """Delete a project: from the metadata at once (its members, cohorts, saved insights
        and dashboards; its capture token stops working), then its events, persons and
        recordings, and the write-ahead log's copies of its events. Raises `NotFound` for no
        such project. When the store cannot finish within `wait_s`, raises `StoreUnavailable`:
        the project is deleted all the same, and `sweep_deleted_projects` removes its data."""
        was = self.meta.delete_project(project_id)
        self.tokens.forget(was.api_token)
        self.insight_cache.forget_project(project_id)
        try:
            return self._purge_project(project_id, DELETION_WAIT_S if wait_s is None else wait_s)
        finally:
            # A backup from now on holds the project's tombstone, and a server restored from
            # it sweeps the data away; one from before must be told.
            self._note_in_backups(Erasure(project_id))

    def sweep_deleted_projects(self) -> int:
        """Remove what is left of deleted projects' events and recordings (a deletion the
        store could not finish, or a request that passed its token check as the project
        went); returns how many events and recorded sessions went."""
        removed = 0
        for project_id in self.meta.deleted_project_ids():
            left = self.events.count_events(project_id) or self.blobs.list(
                f"recordings/{project_id}/"
            )
            if left:
                done = self._purge_project(project_id, DELETION_WAIT_S)
                removed += done.events + done.recorded_sessions
        return removed

    def _purge_project(self, project_id: int, wait_s: float) -> ProjectDeletion:
        self._flush_for_deletion(wait_s)
        done = delete_project_data(self.events, self.blobs, project_id)
        # A capture request that found the project just before it went submits its events a
        # moment later: once they are loaded, they go too.
        self._flush_for_deletion(wait_s)
        late = delete_project_data(self.events, self.blobs, project_id)
        self._purge_log(wait_s, "the project", "its")
        return dataclasses.replace(
            done,
            events=done.events + late.events,
            persons=done.persons + late.persons,
            recorded_sessions=done.recorded_sessions + late.recorded_sessions,
        )

    def _note_in_backups(self, erasure: Erasure) -> bool:
        """Tell the backups made before a deletion to repeat it (`apply_backup_erasures`);
        False (and an error in the log) when a backup's folder cannot be written to."""
        with self._backups:
            try:
                record_erasure(self.settings.backups_dir, erasure)
            except OSError as exc:
                log.error(
                    "could not note a deletion (project %d, %d distinct ids) in the backups: %s",
                    erasure.project_id,
                    len(erasure.distinct_ids),
                    exc,
                )
                return False
        return True

    def apply_backup_erasures(self) -> int:
        """Repeat in each backup the deletions made since it, and bring its `backup.json` up
        to date; returns how many backups changed. A backup this version cannot open without
        migrating it (one made before an upgrade) keeps them pending: the server restored from
        it applies them when it starts.

        The deleting runs without the backups lock (deletions noted meanwhile wait for the next
        run, not for this one); only forgetting what was applied takes it."""
        changed = 0
        for backup in list_backups(self.settings.backups_dir):
            folder = self.settings.backups_dir / backup.name
            pending = pending_erasures(folder)
            if not pending.erasures or not opens_here(folder):
                continue
            try:
                erase_in_backup(folder, pending.erasures)
                with self._backups:
                    if not folder.exists():  # pruned meanwhile
                        continue
                    drop_erasures(folder, pending.lines)
                    recount(folder)
            except Exception:  # one broken backup does not keep the others as they are
                if folder.exists():
                    log.exception("could not repeat deletions in backup %s", backup.name)
                continue
            changed += 1
        return changed

    def apply_restored_erasures(self) -> int:
        """On a data directory restored from a backup: repeat the deletions made after the
        backup (its pending list), before anything reads the data; returns how many."""
        pending = pending_erasures(self.settings.data_dir)
        for erasure in pending.erasures:
            if erasure.distinct_ids:
                _each_person(erasure, self.erase_person)
            else:
                with contextlib.suppress(NotFound):  # gone from the metadata already
                    self.meta.delete_project(erasure.project_id)
                    self._note_in_backups(erasure)
                self._purge_project(erasure.project_id, DELETION_WAIT_S)
        drop_erasures(self.settings.data_dir, pending.lines)
        return len(pending.erasures)

    def carry_out_requests(self) -> int:
        """Carry out the commands the CLI handed to this server while it holds the event store
        (`store.meta.requests`), oldest first, each answered with its result or its error;
        returns how many."""
        done = 0
        while (request := self.meta.requests.claim_next()) is not None:
            try:
                result = self.carry_out(request.action, request.project_id, request.distinct_id)
            except Exception as exc:
                error = command_error(exc)
                if error is None:
                    log.exception("the CLI's request %d (%s) failed", request.id, request.action)
                    error = f"the server failed: {first_line(exc)}"
                self.meta.requests.finish(request.id, error=error)
            else:
                self.meta.requests.finish(request.id, result=result)
            done += 1
        return done

    def carry_out(
        self, action: AdminAction, project_id: int | None = None, distinct_id: str | None = None
    ) -> dict[str, Any]:
        """One of the CLI's commands that need the event store, by whoever holds it (the
        server, for a request; the CLI itself, on a stopped server's directory): what it did,
        as the CLI prints it. Errors it expects say what went wrong (`command_error`)."""
        if action is AdminAction.BACKUP:
            try:
                return {"name": self.back_up().name}
            except OSError as exc:
                raise StoreUnavailable(f"the backup could not be written: {exc}") from exc
        if project_id is None or self.meta.project(project_id) is None:
            raise NotFound(f"no project {project_id}")
        if action is AdminAction.DELETE_PERSON and distinct_id is not None:
            return self.erase_person(project_id, distinct_id).fields()
        if action is AdminAction.DELETE_PROJECT:
            try:
                return self.erase_project(project_id).fields()
            except StoreUnavailable as exc:
                raise StoreUnavailable(
                    f"the project is deleted, but not all of its data yet: {exc} (the "
                    "server's sweep removes the rest)"
                ) from exc
        raise InvalidInput(f"a command the server cannot carry out: {action}")

    def _flush_for_deletion(self, wait_s: float) -> None:
        if not self.writer.flush(wait_s):
            raise StoreUnavailable(
                "events are still being loaded into the store, so nothing was deleted; try again"
            )

    def _purge_log(self, wait_s: float, what: str, whose: str) -> None:
        try:
            purged = self.writer.purge_loaded(wait_s)
        except OSError:
            purged = False
        if not purged:
            raise StoreUnavailable(
                f"{what} was deleted from the store, but the write-ahead log still holds "
                f"copies of {whose} events; try again to remove them"
            )

    def close(self) -> None:
        """Commit everything queued, then close the stores."""
        self.writer.close()
        self.events.close()
        self.meta.close()
        self.enricher.close()


def erase_in_backup(folder: Path, erasures: list[Erasure]) -> None:
    """Repeat deletions in a backup's own stores."""
    events = DuckDBEventStore(folder / "events.duckdb", memory_limit="256MB", threads=1)
    sqlite_file = folder / "metadata.sqlite3"
    meta = MetaStore(f"sqlite:///{sqlite_file}") if sqlite_file.exists() else None
    try:
        erase_everywhere(events, LocalBlobStore(folder / "blobs"), meta, erasures)
    finally:
        events.close()
        if meta is not None:
            meta.close()


def _each_person(erasure: Erasure, delete: Callable[[int, str], PersonDeletion]) -> None:
    """Delete, by one of their ids, each person who holds an erased distinct id: once the
    ids merged with it are gone, they are not looked for again."""
    gone: set[str] = set()
    for distinct_id in erasure.distinct_ids:
        if distinct_id not in gone:
            gone.update(delete(erasure.project_id, distinct_id).distinct_ids)


def erase_everywhere(
    events: EventStore, blobs: BlobStore, meta: MetaStore | None, erasures: list[Erasure]
) -> None:
    """Delete erased persons and projects from a closed copy of the stores (a backup): each of
    a person's distinct ids (with whoever they belong to there), a project's metadata and
    data."""
    for erasure in erasures:
        if erasure.distinct_ids:
            _each_person(erasure, functools.partial(delete_person, events, blobs))
            if meta is not None:
                meta.forget_distinct_ids(erasure.project_id, erasure.distinct_ids)
            continue
        if meta is not None:
            with contextlib.suppress(NotFound):
                meta.delete_project(erasure.project_id)
        delete_project_data(events, blobs, erasure.project_id)


def open_services(settings: Settings, *, now_us: Callable[[], int] | None = None) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    clock = now_us or wall_clock_us
    back_up_before_upgrade(settings, datetime.fromtimestamp(clock() / 1e6, tz=UTC))
    meta = MetaStore(
        settings.metadata_url, now=lambda: datetime.fromtimestamp(clock() / 1e6, tz=UTC)
    )
    try:
        events = DuckDBEventStore(
            settings.events_db_path,
            memory_limit=settings.duckdb_memory_limit,
            threads=settings.duckdb_threads,
        )
    except BaseException:  # held by a running server, say
        meta.close()
        raise
    wal = SegmentLog(settings.wal_dir)
    try:
        recovered = recover(events, wal, batch=settings.max_batch_events)
    except Exception as exc:
        wal.close()
        with contextlib.suppress(Exception):  # DuckDB may refuse even that after a fatal error
            events.close()
        meta.close()
        raise StoreUnavailable(
            "could not load the events waiting in the write-ahead log into the event store: "
            f"{first_line(exc)}. They stay in {settings.wal_dir} and the next start loads them; if "
            "DuckDB ran out of memory, raise USERLENS_DUCKDB_MEMORY_LIMIT."
        ) from exc
    if recovered:
        log.info("loaded %d events from the write-ahead log", recovered)
    writer = BatchWriter(
        events,
        wal,
        max_queued=settings.max_queued_events,
        max_queued_bytes=settings.max_queued_mb * 1024 * 1024,
        max_batch=settings.max_batch_events,
    )
    writer.start()
    services = Services(
        settings=settings,
        meta=meta,
        events=events,
        writer=writer,
        blobs=LocalBlobStore(settings.blobs_dir),
        enricher=Enricher(settings.geoip_db),
        now_us=clock,
        disk=DiskGuard(statvfs_free(settings.data_dir), settings.min_free_disk_mb * 1024 * 1024),
    )
    try:
        repeated = services.apply_restored_erasures()
    except BaseException:
        services.close()
        raise
    if repeated:
        log.info("repeated %d deletions made after the backup this directory came from", repeated)
    # Whoever holds the event store carries out what the CLI asked of a server that stopped.
    if requeued := meta.requests.requeue_interrupted():
        log.info("%d requests from the CLI, interrupted by a stop, to carry out again", requeued)
    return services
