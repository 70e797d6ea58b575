"""Loading captured events into a DuckDB store that already holds millions of them.

Run it with `.venv/bin/python bench/store_growth.py` (`--millions 10`). It is a benchmark, not
a test: it prints figures as it goes and, as its last line, one JSON object with all of them.

What it does:

1. Writes the seeded dataset of `bench/queries.py` (N million events of about N/10 million
   persons over 30 days) straight into a fresh DuckDB event store, then opens it again as the
   server does: 2 threads and the server's default memory limit (`--memory-limit`).
2. Writes `--batches` batches of `--batch` new events (~1 kB of properties each, the page
   views and clicks of returning and new persons, timestamped in the last hour) through
   `DuckDBEventStore.write`, as the loader does: person rules applied, persons upserted, the
   rows inserted (`INSERT OR IGNORE` on the `(project_id, uuid)` key), in one transaction
   each. A write that does not fit in the memory limit
   is counted as failed (the loader would split it, and in the end answer 503).
3. In the same run, after each of those writes, a baseline: as many other rows inserted with
   one bare `INSERT` into a table of the same columns with no key and no persons.
4. Prints the medians per batch and their ratio, the peak RSS over all the writes (one batch
   is built at a time, outside the timing), and last, a JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "src"))
sys.path.insert(0, str(BENCH_DIR))

from queries import NOW, generate, reset_peak, status_mb  # noqa: E402
from userlens.config import Settings  # noqa: E402
from userlens.errors import StoreOutOfMemory  # noqa: E402
from userlens.model.event import CapturedEvent  # noqa: E402
from userlens.store.duckdb import DuckDBEventStore  # noqa: E402
from userlens.store.duckdb.store import _event_table  # noqa: E402
from userlens.store.duckdb.views import registered  # noqa: E402

PROJECT = 1
PATHS = ["/", "/pricing", "/docs", "/blog/launch", "/signup", "/app", "/app/settings"]


def batch_of(n: int, seed: int, persons: int) -> list[CapturedEvent]:
    """`n` new events: two in three by persons already in the store (`u<k>`), the rest by new
    ones; page views and clicks with posthog-js's properties, padded to ~1 kB."""
    now_us = int(NOW.timestamp() * 10**6)
    out = []
    for i in range(n):
        k = (seed * 7919 + i * 104729) % (persons * 3 // 2)
        who = f"u{k}" if k < persons else f"new{seed}-{i}"
        path = PATHS[(i * 31 + seed) % len(PATHS)]
        ts = now_us - ((i * 7_777_777 + seed) % 3_600_000_000)
        props = {
            "$current_url": f"https://shop.example{path}",
            "$pathname": path,
            "$browser": "Chrome",
            "$os": "Mac OS X",
            "$session_id": f"s{seed}-{i // 20}",
            "$screen_width": 1920,
            "$screen_height": 1080,
            "$lib": "web",
            "token": "phc_bench",
            "pad": "x" * 700,
        }
        out.append(
            CapturedEvent(
                project_id=PROJECT,
                uuid=str(uuid.UUID(int=(seed << 64) | i, version=4)),
                event="$pageview" if i % 3 else "$autocapture",
                distinct_id=who,
                timestamp_us=ts,
                received_at_us=ts,
                properties_json=orjson.dumps(props).decode(),
                session_id=props["$session_id"],  # type: ignore[arg-type]
                current_url=props["$current_url"],  # type: ignore[arg-type]
                pathname=path,
                browser="Chrome",
                os="Mac OS X",
                device_type="Desktop",
                lib="web",
                set_once_props={"first_path": path} if i % 10 == 0 else None,
            )
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--millions", type=float, default=10.0)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--memory-limit", default=Settings().duckdb_memory_limit)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="userlens-growth-") as folder:
        path = Path(folder) / "events.duckdb"
        started = time.perf_counter()
        store = DuckDBEventStore(path, memory_limit="8GB", threads=2)
        stored = generate(store, args.millions)
        persons = max(int(args.millions * 1_000_000) // 10, 100)
        store._con.execute("CREATE TABLE bare AS SELECT * FROM events LIMIT 0")  # no key
        store.close()
        print(
            f"{stored:,} events of {persons:,} persons generated in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        store = DuckDBEventStore(path, memory_limit=args.memory_limit, threads=2)
        print(f"store opened with memory limit {args.memory_limit}, 2 threads", flush=True)
        reset_peak()
        ours: list[float] = []
        baseline: list[float] = []
        failed: list[str] = []
        bare = store._con.cursor()
        for b in range(args.batches):  # ours and the baseline in turn: both meet the same machine
            events = batch_of(args.batch, b + 1, persons)  # built outside the timing
            t = time.perf_counter()
            try:
                store.write(events)
                ours.append((time.perf_counter() - t) * 1000)
            except StoreOutOfMemory as exc:  # the figure is whether it fitted
                failed.append(str(exc).splitlines()[0][:160])
            events = batch_of(args.batch, 1000 + b, persons)
            t = time.perf_counter()
            with registered(bare, "_bare", _event_table(events)):
                bare.execute(
                    "INSERT INTO bare SELECT project_id, CAST(uuid AS UUID), event, "
                    "distinct_id, CAST(person_id AS UUID), * EXCLUDE (project_id, uuid, event, "
                    "distinct_id, person_id) FROM _bare"
                )
            baseline.append((time.perf_counter() - t) * 1000)
        peak = status_mb("VmHWM")
        store.close()

    out: dict[str, Any] = {
        "events_in_store": stored,
        "batch": args.batch,
        "batches": args.batches,
        "memory_limit": args.memory_limit,
        "failed_batches": len(failed),
        "write_ms_median": round(statistics.median(ours), 1) if ours else None,
        "baseline_ms_median": round(statistics.median(baseline), 1),
        "peak_rss_mb": round(peak),
    }
    if ours:
        out["ratio"] = round(out["write_ms_median"] / out["baseline_ms_median"], 2)
        print(
            f"write of {args.batch:,} events: {out['write_ms_median']} ms (median of "
            f"{len(ours)}), bare insert {out['baseline_ms_median']} ms, ratio {out['ratio']}",
            flush=True,
        )
    if failed:
        print(f"{len(failed)} of {args.batches} writes failed: {failed[0]}", flush=True)
    print(f"peak RSS over the writes: {out['peak_rss_mb']} MB", flush=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
