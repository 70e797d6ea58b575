"""Memory under a flood of large events: does back-pressure hold the server's memory?

Starts `userlens serve` on a fresh data dir and, from several client threads, posts batches of
events whose properties are hundreds of kilobytes each (what a careless SDK call or a hostile
client sends), as fast as the server takes them; a client that gets a 503 waits 50 ms and goes
on. It samples the server's resident memory every 100 ms, then stops the server gracefully and
counts the stored events.

Printed: the server's memory at idle (the baseline, measured in the same run) and at its peak,
their ratio, the requests answered 200 and 503, and whether every acknowledged event was
stored (after starting the server once more, which loads whatever its stop left in the log).
The last line is one JSON object with those figures.

    .venv/bin/python bench/large_events.py                  # 20 s, 6 clients, 400 kB events
    .venv/bin/python bench/large_events.py --max-queued-mb 32
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import duckdb

from _procs import Server, userlens_exe


class Flood:
    """Client threads posting large events until `stop`; counts the answers."""

    def __init__(self, url: str, token: str, events: int, event_kb: int) -> None:
        self._url = url + "/batch/"
        self._token = token
        self._events = events
        self._blob = "x" * (event_kb * 1000)
        self._lock = threading.Lock()
        self.ok = self.refused = self.failed = 0
        self.acked_uuids: list[str] = []

    def _body(self) -> tuple[bytes, list[str]]:
        ids = [str(uuid.uuid4()) for _ in range(self._events)]
        batch = [
            {
                "event": "large",
                "distinct_id": f"p{i % 50}",
                "uuid": u,
                "properties": {"b": self._blob},
            }
            for i, u in enumerate(ids)
        ]
        return json.dumps({"api_key": self._token, "batch": batch}).encode(), ids

    def run(self, stop: float) -> None:
        while time.monotonic() < stop:
            body, ids = self._body()
            request = urllib.request.Request(
                self._url, data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=120):
                    pass
            except urllib.error.HTTPError as exc:
                exc.close()
                with self._lock:
                    if exc.code == 503:
                        self.refused += 1
                    else:
                        self.failed += 1
                time.sleep(0.05)
                continue
            except OSError:
                with self._lock:
                    self.failed += 1
                continue
            with self._lock:
                self.ok += 1
                self.acked_uuids.extend(ids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds of flood (20).")
    parser.add_argument("--clients", type=int, default=6, help="Client threads (6).")
    parser.add_argument("--event-kb", type=int, default=400, help="Properties per event (400).")
    parser.add_argument("--events", type=int, default=20, help="Events per request (20).")
    parser.add_argument(
        "--max-queued-mb", type=int, default=None, help="USERLENS_MAX_QUEUED_MB for the server."
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="userlens-large-") as work:
        data = Path(work) / "data"
        env = {**os.environ, "USERLENS_DATA_DIR": str(data), "USERLENS_LOG_LEVEL": "warning"}
        if args.max_queued_mb is not None:
            env["USERLENS_MAX_QUEUED_MB"] = str(args.max_queued_mb)
        exe = str(userlens_exe())
        created = subprocess.run(
            [exe, "project", "create", "Large", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        token = json.loads(created.stdout)["api_token"]
        log_path = Path(work) / "server.log"
        server = Server.start("userlens", [exe, "serve"], env, log_path)
        try:
            server.wait_ready()
            time.sleep(1.0)
            idle_mb = server.rss_mb()
            print(
                f"large events: {args.clients} clients, {args.events} events of "
                f"{args.event_kb} kB per request, {args.duration:.0f} s; server idle at "
                f"{idle_mb:,.0f} MB"
            )
            flood = Flood(f"http://127.0.0.1:{server.port}", token, args.events, args.event_kb)
            stop = time.monotonic() + args.duration
            threads = [
                threading.Thread(target=flood.run, args=(stop,)) for _ in range(args.clients)
            ]
            for thread in threads:
                thread.start()
            peak_mb = idle_mb
            while any(t.is_alive() for t in threads):
                peak_mb = max(peak_mb, server.rss_mb())
                time.sleep(0.1)
        finally:
            stopping = time.monotonic()
            server.stop(300)
            shutdown_s = time.monotonic() - stopping
        # Whatever the stop left in the write-ahead log is loaded at the next start, before the
        # server answers: start it once more so that the count below sees every logged event.
        restarting = time.monotonic()
        server = Server.start("userlens (again)", [exe, "serve"], env, log_path)
        restart_s: float | None = None
        restart_error: str | None = None
        try:
            server.wait_ready(900)
            restart_s = time.monotonic() - restarting
        except RuntimeError:  # the next start refused to load the log: say why, count the rest
            errors = [line for line in server.log_tail().splitlines() if "Error" in line]
            restart_error = errors[-1].strip() if errors else "the server exited"
        finally:
            server.stop(300)
        stored: set[str] = set()
        try:
            con = duckdb.connect(str(data / "events.duckdb"), read_only=True)
            stored = {str(r[0]) for r in con.execute("SELECT uuid FROM events").fetchall()}
            con.close()
        except duckdb.Error as exc:
            restart_error = restart_error or f"the store cannot be read: {exc}"

    acked = len(flood.acked_uuids)
    all_durable = set(flood.acked_uuids) <= stored
    print(f"  answered 200: {flood.ok:,} requests ({acked:,} events); 503: {flood.refused:,}")
    print(f"  other failures: {flood.failed:,}; every acknowledged event stored: {all_durable}")
    print(f"  peak memory {peak_mb:,.0f} MB, {peak_mb / idle_mb:.1f}x the idle server")
    stopped = f"  graceful stop {shutdown_s:.1f} s; "
    if restart_s is not None:
        print(f"{stopped}next start, loading what it left {restart_s:.1f} s")
    else:
        print(f"{stopped}the next start failed: {(restart_error or '')[:300]}")
    print(
        json.dumps(
            {
                "duration_s": args.duration,
                "clients": args.clients,
                "event_kb": args.event_kb,
                "events_per_request": args.events,
                "max_queued_mb": args.max_queued_mb,
                "idle_rss_mb": round(idle_mb, 1),
                "peak_rss_mb": round(peak_mb, 1),
                "peak_to_idle": round(peak_mb / idle_mb, 2),
                "ok_requests": flood.ok,
                "refused_503": flood.refused,
                "failed": flood.failed,
                "acked_events": acked,
                "stored_events": len(stored),
                "all_durable": all_durable,
                "shutdown_s": round(shutdown_s, 1),
                "restart_s": None if restart_s is None else round(restart_s, 1),
                "restart_error": restart_error,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
