"""Opening and closing everything the server holds: stores, the writer, the enricher."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from userlens.capture.enrich import Enricher
from userlens.capture.tokens import TokenCache
from userlens.config import Settings
from userlens.store.blobs import BlobStore
from userlens.store.duckdb import DuckDBEventStore
from userlens.store.events import EventStore
from userlens.store.local_blobs import LocalBlobStore
from userlens.store.meta import MetaStore
from userlens.store.wal import SegmentLog
from userlens.store.writer import BatchWriter, recover
from userlens.web.cache import ResultCache

log = logging.getLogger(__name__)


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
    tokens: TokenCache = dataclasses.field(init=False)
    insight_cache: ResultCache = dataclasses.field(default_factory=ResultCache)

    def __post_init__(self) -> None:
        self.tokens = TokenCache(self.meta.project_by_token)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_us() / 1_000_000, tz=UTC)

    def close(self) -> None:
        """Commit everything queued, then close the stores."""
        self.writer.close()
        self.events.close()
        self.meta.close()
        self.enricher.close()


def open_services(settings: Settings, *, now_us: Callable[[], int] | None = None) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    clock = now_us or wall_clock_us
    meta = MetaStore(
        settings.metadata_url, now=lambda: datetime.fromtimestamp(clock() / 1e6, tz=UTC)
    )
    events = DuckDBEventStore(
        settings.events_db_path,
        memory_limit=settings.duckdb_memory_limit,
        threads=settings.duckdb_threads,
    )
    wal = SegmentLog(settings.wal_dir)
    recovered = recover(events, wal, batch=settings.max_batch_events)
    if recovered:
        log.info("loaded %d events from the write-ahead log", recovered)
    writer = BatchWriter(
        events, wal, max_queued=settings.max_queued_events, max_batch=settings.max_batch_events
    )
    writer.start()
    return Services(
        settings=settings,
        meta=meta,
        events=events,
        writer=writer,
        blobs=LocalBlobStore(settings.blobs_dir),
        enricher=Enricher(settings.geoip_db),
        now_us=clock,
    )
