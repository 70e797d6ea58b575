"""What each step of capture costs per event, and the most a capture path could reach here.

Run it with `.venv/bin/python bench/capture_stages.py` (`--events 200000`). It is a benchmark,
not a test: it prints figures as it goes and, as its last line, one JSON object with all of
them.

What it does, in this one process, on the events of `bench/capture.py`'s load generator (the
same posthog-js-like ~1 kB events in gzip `/batch/` bodies of 50, built before any timing):

1. Times each step capture takes an event through, one step at a time over all the events,
   as CPU time of the whole process (DuckDB's own threads included) per event:
   - `parse`: gunzip and JSON parsing, all the capture bench's baseline does with a body;
   - `validate`: the capture app's decoding, envelope, validation and enrichment (`parse`
     included), as a request runs them;
   - `encode`: encoding the events for the write-ahead log;
   - `write`: `DuckDBEventStore.write` in the loader's batches (persons looked up and changed,
     the Arrow table built, the rows inserted on the `(project_id, uuid)` key), and the
     checkpoint that folds them into the file;
   - `insert`: of that, DuckDB's part alone: the same rows, from Arrow tables built
     beforehand, inserted into a second fresh store the same way and checkpointed;
   - `append`: DuckDB storing the same rows at all: inserted into a table of the same
     columns with no key, and checkpointed.
2. Works out, for a machine of `--cores` cores, an upper bound on the capture bench's ratio.
   The bench's baseline spends one core on HTTP and `parse`, so per event it costs
   `b = 1 / baseline rate` core-seconds (`--baseline-events-per-s`, from the bench's JSON
   line; without it, `parse` alone, which makes the bound lower than it is). Capture that
   stores its events spends at least `b` and DuckDB's `insert` per event, on `cores` cores at
   best: its rate is at most `cores / (b + insert)` and its ratio at most
   `cores * b / (b + insert)`, whatever the code around them. With this code's own steps
   (`validate` over `parse`, `encode`, `write`) in place of `insert`, the same sum bounds
   this code. Both bounds leave out the load generator's CPU, the hand-offs between threads
   and the log's fsync, so the real figures are lower.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "src"))
sys.path.insert(0, str(BENCH_DIR))

from _load import EVENTS_PER_BATCH, EventFactory  # noqa: E402
from userlens.capture.decode import decode_body  # noqa: E402
from userlens.capture.enrich import Enricher, RequestContext  # noqa: E402
from userlens.capture.envelope import unwrap  # noqa: E402
from userlens.capture.normalize import normalize  # noqa: E402
from userlens.model.event import CapturedEvent  # noqa: E402
from userlens.store.duckdb import DuckDBEventStore  # noqa: E402
from userlens.store.duckdb.store import BATCH_ROWS, _event_table  # noqa: E402
from userlens.store.duckdb.views import registered  # noqa: E402
from userlens.store.writer import LogRecord, encode  # noqa: E402

PROJECT = 1
CAPTURE_KEY = "phc_bench"  # a project's public capture key
USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
MAX_BODY = 20 * 1024 * 1024
STORE_MEMORY = "512MB"  # the server's default


def cpu_us_per_event(step: Callable[[], object], events: int) -> float:
    """Process CPU time (every thread) of `step`, per event, in microseconds."""
    started = time.process_time()
    step()
    return (time.process_time() - started) * 1e6 / events


def validated(bodies: Sequence[bytes], enricher: Enricher) -> list[CapturedEvent]:
    """The events of `bodies`, through the capture app's decoding, validation and enrichment."""
    ctx = RequestContext(user_agent=USER_AGENT, client_ip="127.0.0.1")
    out: list[CapturedEvent] = []
    for body in bodies:
        payload = decode_body(
            body,
            method="POST",
            content_type="application/json",
            content_encoding="gzip",
            query={},
            max_size=MAX_BODY,
        )
        envelope = unwrap(payload, {})
        now_us = time.time_ns() // 1000
        for raw in envelope.events:
            out.append(
                normalize(
                    raw,
                    project_id=PROJECT,
                    sent_at=envelope.sent_at,
                    historical=envelope.historical,
                    now_us=now_us,
                    ctx=ctx,
                    enricher=enricher,
                )
            )
    return out


def chunks(events: Sequence[CapturedEvent], size: int) -> list[Sequence[CapturedEvent]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


def run(args: argparse.Namespace) -> dict[str, Any]:
    batches = max(1, args.events // EVENTS_PER_BATCH)
    n = batches * EVENTS_PER_BATCH
    factory = EventFactory(CAPTURE_KEY, seed=1, run_tag=1)
    built = time.perf_counter()
    bodies = [gzip.compress(factory.batch_body(), 6, mtime=0) for _ in range(batches)]
    print(
        f"built {batches:,} gzip bodies of {EVENTS_PER_BATCH} events ({n:,} events) in "
        f"{time.perf_counter() - built:.1f} s",
        file=sys.stderr,
    )
    figures: dict[str, float] = {}

    def parse() -> None:
        for body in bodies:
            orjson.loads(gzip.decompress(body))

    figures["parse"] = cpu_us_per_event(parse, n)
    enricher = Enricher()
    events: list[CapturedEvent] = []
    figures["validate"] = cpu_us_per_event(lambda: events.extend(validated(bodies, enricher)), n)
    requests = chunks(events, EVENTS_PER_BATCH)
    figures["encode"] = cpu_us_per_event(lambda: [encode(LogRecord(r)) for r in requests], n)

    with tempfile.TemporaryDirectory(prefix="userlens-stages-") as tmp:
        loads = chunks(events, args.loader_batch)
        store = DuckDBEventStore(Path(tmp) / "a.duckdb", memory_limit=STORE_MEMORY)

        def write() -> None:
            for batch in loads:
                store.write(batch)
            store._con.execute("CHECKPOINT")

        figures["write"] = cpu_us_per_event(write, n)
        store.close()
        # The same rows (persons now assigned by the write) as Arrow tables, built untimed.
        tables = [_event_table(batch) for batch in loads]
        figures["arrow"] = cpu_us_per_event(lambda: [_event_table(b) for b in loads], n)
        bare = DuckDBEventStore(Path(tmp) / "b.duckdb", memory_limit=STORE_MEMORY)
        con = bare._con

        def insert() -> None:
            for table in tables:
                con.execute("BEGIN TRANSACTION")
                with registered(con, "_batch", table):
                    con.execute(f"INSERT OR IGNORE INTO events {BATCH_ROWS}")
                con.execute("COMMIT")
            con.execute("CHECKPOINT")

        figures["insert"] = cpu_us_per_event(insert, n)
        bare.close()
        # DuckDB storing the rows at all: a table of the same columns with no key.
        plain = DuckDBEventStore(Path(tmp) / "c.duckdb", memory_limit=STORE_MEMORY)
        con = plain._con
        con.execute("CREATE TABLE rows AS SELECT * FROM events LIMIT 0")

        def append() -> None:
            for table in tables:
                with registered(con, "_batch", table):
                    con.execute(f"INSERT INTO rows {BATCH_ROWS}")
            con.execute("CHECKPOINT")

        figures["append"] = cpu_us_per_event(append, n)
        plain.close()

    parse_only = args.baseline_events_per_s is None
    b = figures["parse"] if parse_only else 1e6 / args.baseline_events_per_s
    ours = b + (figures["validate"] - figures["parse"]) + figures["encode"] + figures["write"]
    bound_any = args.cores * b / (b + figures["insert"])
    bound_rows = args.cores * b / (b + figures["append"])
    bound_ours = args.cores * b / ours
    return {
        "events": n,
        "loader_batch": args.loader_batch,
        "cores": args.cores,
        "cpu_us_per_event": {k: round(v, 2) for k, v in figures.items()},
        "baseline_us_per_event": round(b, 2),
        "baseline_from": "parse" if parse_only else "capture bench",
        "max_events_per_s_any_code": round(args.cores * 1e6 / (b + figures["insert"])),
        "max_ratio_any_code": round(bound_any, 3),
        "max_ratio_no_key": round(bound_rows, 3),
        "max_events_per_s_this_code": round(args.cores * 1e6 / ours),
        "max_ratio_this_code": round(bound_ours, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--loader-batch", type=int, default=20_000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument(
        "--baseline-events-per-s",
        type=float,
        default=None,
        help="the capture bench's baseline_events_per_s, to bound against its HTTP cost too",
    )
    result = run(parser.parse_args(argv))
    cpu = result["cpu_us_per_event"]
    names = {
        "parse": "gunzip and parse (the baseline's work)",
        "validate": "decode, validate and enrich (parse included)",
        "encode": "encode for the write-ahead log",
        "write": "store write: persons, Arrow, insert, checkpoint",
        "arrow": "  of which the Arrow table",
        "insert": "  of which DuckDB's insert and checkpoint",
        "append": "DuckDB storing the same rows with no key",
    }
    print(f"CPU per event over {result['events']:,} events:")
    for key, label in names.items():
        print(f"  {label:<52} {cpu[key]:7.2f} us")
    print(
        f"baseline: {result['baseline_us_per_event']:.2f} us of one core per event "
        f"(from {result['baseline_from']})"
    )
    print(
        f"on {result['cores']} cores, capture that stores its events in DuckDB: at most "
        f"{result['max_events_per_s_any_code']:,} events/s, ratio "
        f"<= {result['max_ratio_any_code']:.3f} whatever the code around the insert"
    )
    print(f"  and even with no key to deduplicate on: ratio <= {result['max_ratio_no_key']:.3f}")
    print(
        f"this code's steps: at most {result['max_events_per_s_this_code']:,} events/s, "
        f"ratio <= {result['max_ratio_this_code']:.3f}"
    )
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
