"""A backup of a data directory that holds millions of events, while the loader keeps writing.

Run it with `.venv/bin/python bench/backup.py` (`--millions 10`). It is a benchmark, not a
test: it prints figures as it goes and, as its last line, one JSON object with all of them.

What it does:

1. Writes the seeded dataset of `bench/queries.py` (N million events of about N/10 million
   persons over 30 days) straight into a fresh DuckDB event store, adds `--recordings`
   recording chunks (a blob of ~2 kB each and its index row), then opens the store again as
   the server does: 2 threads and the server's default memory limit (`--memory-limit`).
2. Starts a writer thread that stores one new event at a time through
   `DuckDBEventStore.write`, as the loader does with a trickle of capture, and records how long
   each write took.
3. Makes a backup (`userlens.store.backup.make_backup`: the event store, the metadata and the
   recordings' files) and times it, with the peak RSS of the process over it.
4. In the same run, a baseline: copying the same files with `shutil` (the event store's file
   and every recording file, in full), as an operator would with the server stopped.
5. Prints both times and their ratio, the longest write during the backup (what capture's
   loader waited).
6. Deleting a person from the backup, as the server repeats a person's deletion in the
   backups made before it (`userlens.web.services.erase_in_backup`: open the backup's store,
   delete the person's events, person rows and recording index, close), for `--erasures`
   persons, against a baseline on the same file: the person's rows deleted from `events`,
   `person_distinct_ids` and `persons` by hand-written SQL in a plain DuckDB connection.
   Ours and the baseline alternate, each on a different person of the same sort.
7. Last, a JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "src"))
sys.path.insert(0, str(BENCH_DIR))

from queries import NOW, generate, reset_peak, status_mb  # noqa: E402
from userlens.config import Settings  # noqa: E402
from userlens.model.backup import Erasure  # noqa: E402
from userlens.model.event import CapturedEvent  # noqa: E402
from userlens.model.recording import RecordingChunk  # noqa: E402
from userlens.store.backup import make_backup  # noqa: E402
from userlens.store.duckdb import DuckDBEventStore  # noqa: E402
from userlens.store.local_blobs import LocalBlobStore  # noqa: E402
from userlens.store.meta import MetaStore  # noqa: E402
from userlens.web.services import erase_in_backup  # noqa: E402

PROJECT = 1


def chunks_of(n: int, blobs: LocalBlobStore) -> list[RecordingChunk]:
    """`n` recording chunks of ~2 kB, ten per session, their blobs written."""
    now_us = int(NOW.timestamp() * 10**6)
    out = []
    for i in range(n):
        session, window = f"s{i // 10}", "w1"
        key = f"recordings/{PROJECT}/{session}/{window}/{i:013d}-{uuid.uuid4().hex}.json.zst"
        blobs.put(key, os.urandom(2048))
        out.append(
            RecordingChunk(
                project_id=PROJECT,
                session_id=session,
                window_id=window,
                distinct_id=f"u{i // 10}",
                blob_key=key,
                first_ts_us=now_us + i * 1000,
                last_ts_us=now_us + i * 1000 + 500,
                event_count=10,
                bytes=2048,
                has_full_snapshot=i % 10 == 0,
                clicks=1,
                console_errors=0,
                href="https://shop.test/",
                received_at_us=now_us,
            )
        )
    return out


def trickle(store: DuckDBEventStore, stop: threading.Event, waits: list[float]) -> None:
    """One event per write until `stop`: the time each write took, in ms."""
    now_us = int(NOW.timestamp() * 10**6)
    n = 0
    while not stop.is_set():
        event = CapturedEvent(
            project_id=PROJECT,
            uuid=str(uuid.uuid4()),
            event="$pageview",
            distinct_id=f"trickle-{n % 100}",
            timestamp_us=now_us,
            received_at_us=now_us,
            properties_json='{"$current_url": "https://shop.test/"}',
        )
        started = time.perf_counter()
        store.write([event])
        waits.append((time.perf_counter() - started) * 1000)
        n += 1
        time.sleep(0.02)


def baseline_copy(data: Path, target: Path) -> float:
    """Seconds to copy the event store's file and every recording file with shutil."""
    started = time.perf_counter()
    target.mkdir()
    shutil.copyfile(data / "events.duckdb", target / "events.duckdb")
    shutil.copytree(data / "blobs", target / "blobs")
    return time.perf_counter() - started


def baseline_delete(path: Path, distinct_id: str) -> float:
    """Seconds to delete one person's rows from a store file by hand-written SQL."""
    import duckdb

    started = time.perf_counter()
    with duckdb.connect(str(path), config={"memory_limit": "256MB", "threads": 1}) as con:
        con.execute("BEGIN")
        found = con.execute(
            "SELECT person_id FROM person_distinct_ids WHERE project_id = ? AND distinct_id = ?",
            [PROJECT, distinct_id],
        ).fetchall()
        con.execute(
            "DELETE FROM events WHERE project_id = ? AND distinct_id = ?", [PROJECT, distinct_id]
        )
        con.execute(
            "DELETE FROM person_distinct_ids WHERE project_id = ? AND distinct_id = ?",
            [PROJECT, distinct_id],
        )
        if found:
            con.execute(
                "DELETE FROM persons WHERE project_id = ? AND id = ?", [PROJECT, found[0][0]]
            )
        con.execute("COMMIT")
    return time.perf_counter() - started


def erasures(folder: Path, persons: int, count: int) -> tuple[list[float], list[float], float]:
    """Seconds per person deleted from the backup in `folder`, ours and the baseline's
    (alternating, on different persons), and the peak RSS over ours."""
    ours, base, peak = [], [], 0.0
    step = max(1, persons // (2 * count + 1))
    for i in range(count):
        reset_peak()
        started = time.perf_counter()
        erase_in_backup(folder, [Erasure(PROJECT, (f"u{(2 * i + 1) * step}",))])
        ours.append(time.perf_counter() - started)
        peak = max(peak, status_mb("VmHWM"))
        base.append(baseline_delete(folder / "events.duckdb", f"u{(2 * i + 2) * step}"))
        print(
            f"erasure {i + 1}: from the backup {ours[-1] * 1000:.0f} ms, "
            f"hand-written DELETE {base[-1] * 1000:.0f} ms",
            flush=True,
        )
    return ours, base, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--millions", type=float, default=10.0)
    parser.add_argument("--recordings", type=int, default=20_000)
    parser.add_argument("--memory-limit", default=Settings().duckdb_memory_limit)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--erasures", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        store = DuckDBEventStore(data / "events.duckdb", memory_limit="8GB", threads=2)
        started = time.perf_counter()
        events = generate(store, args.millions)
        blobs = LocalBlobStore(data / "blobs")
        store.write([], chunks_of(args.recordings, blobs))
        store.close()
        print(
            f"wrote {events:,} events and {args.recordings:,} recording chunks in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        store = DuckDBEventStore(data / "events.duckdb", memory_limit=args.memory_limit, threads=2)
        meta = MetaStore(f"sqlite:///{data / 'metadata.sqlite3'}")
        meta.create_project("Bench")
        size_mb = (data / "events.duckdb").stat().st_size / 1e6
        print(f"store opened with memory limit {args.memory_limit}: {size_mb:,.0f} MB", flush=True)

        ours, base, worst, writes, peaks = [], [], [], [], []
        for run in range(args.runs):
            waits: list[float] = []
            stop = threading.Event()
            writer = threading.Thread(target=trickle, args=(store, stop, waits))
            writer.start()
            time.sleep(0.5)
            reset_peak()
            before = len(waits)
            started = time.perf_counter()
            made = make_backup(store, meta, blobs, data / "backups", now=datetime.now(UTC), keep=1)
            ours.append(time.perf_counter() - started)
            peaks.append(status_mb("VmHWM"))
            time.sleep(0.5)
            stop.set()
            writer.join()
            during = waits[before:]
            worst.append(max(during))
            writes.append(len(during))
            assert made.events >= events, made
            assert made.recording_chunks == args.recordings, made
            base.append(baseline_copy(data, Path(tmp) / f"copy{run}"))
            shutil.rmtree(Path(tmp) / f"copy{run}")
            print(
                f"run {run + 1}: backup {ours[-1]:.2f} s (writes went on: {len(during)}, the "
                f"longest {worst[-1]:.0f} ms), shutil copy {base[-1]:.2f} s, "
                f"peak RSS {peaks[-1]:.0f} MB",
                flush=True,
            )
        store.close()
        meta.close()
        [kept] = [p for p in (data / "backups").iterdir() if not p.name.startswith(".")]
        persons = int(args.millions * 100_000)
        erased, erased_base, erase_peak = erasures(kept, persons, args.erasures)

    figures: dict[str, Any] = {
        "events": events,
        "recording_chunks": args.recordings,
        "store_mb": round(size_mb),
        "memory_limit": args.memory_limit,
        "backup_s": round(statistics.median(ours), 3),
        "baseline_copy_s": round(statistics.median(base), 3),
        "ratio": round(statistics.median(o / b for o, b in zip(ours, base, strict=True)), 2),
        "longest_write_during_backup_ms": round(max(worst), 1),
        "writes_during_backup": writes,
        "peak_rss_mb": round(max(peaks)),
        "erasure_s": round(statistics.median(erased), 3),
        "baseline_delete_s": round(statistics.median(erased_base), 3),
        "erasure_ratio": round(statistics.median(erased) / statistics.median(erased_base), 2),
        "erasure_peak_rss_mb": round(erase_peak),
        "load_average_after": round(os.getloadavg()[0], 2),
    }
    print(
        f"\nbackup {figures['backup_s']:.2f} s against a plain copy's "
        f"{figures['baseline_copy_s']:.2f} s (ratio {figures['ratio']}); the loader waited "
        f"at most {figures['longest_write_during_backup_ms']:.0f} ms; "
        f"peak RSS {figures['peak_rss_mb']} MB"
    )
    print(
        f"a person deleted from the backup in {figures['erasure_s']:.2f} s against a "
        f"hand-written DELETE's {figures['baseline_delete_s']:.2f} s (ratio "
        f"{figures['erasure_ratio']}); peak RSS {figures['erasure_peak_rss_mb']} MB"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
