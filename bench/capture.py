"""Capture throughput of a real `userlens serve` process, against a bare baseline on loopback.

Run it with `.venv/bin/python bench/capture.py` (or `make bench`). It is a benchmark, not a
test: it prints figures as it goes and, as its last line, one JSON object with all of them.

What it does:

1. Creates a project with `userlens project create Bench --json` in a fresh data dir and starts
   `userlens serve` on a free port; starts the baseline (this file with `--baseline-server`):
   a bare ASGI app on the same uvicorn stack (uvloop, httptools, one process) that reads the
   body, gunzips it, parses it with orjson, answers 200 `{"status":1}` and keeps nothing.
2. Drives both with the same load generator (`bench/_load.py`, a separate process: raw
   asyncio protocol on uvloop, HTTP/1.1 keep-alive, N connections, one request in flight per
   connection, every request pre-built before timing):
   - batched: `POST /batch/`, gzip (`Content-Encoding: gzip`), 50 posthog-js-like events each;
   - single: `POST /i/v0/e/`, one event per request, plain JSON (not compressed).
   Each run is a warm-up and then a timed phase of `--duration` seconds. Every event sent to
   Userlens has its own uuid, so each is new to the server's deduplication.
3. Reads the server's peak RSS (VmHWM), stops it with SIGTERM, then counts the stored events
   with DuckDB and compares them with the events acknowledged by a 200.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from _procs import Server, clock_ticks, userlens_exe

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
LOAD_SCRIPT = BENCH_DIR / "_load.py"
EVENTS_PER_BATCH = 50
TARGET_RATIO = 0.5
TARGET_RSS_MB = 300.0
BUSY_LOAD = 1.0  # 1-minute load average above which other work probably skews the figures
BUSY_OTHERS_PCT = 15.0  # CPU use of other processes during a timed phase, in % of one core

# Pools of pre-built requests. The baseline keeps nothing, so its requests are cycled. Requests
# to Userlens are used once each: the warm-up pool is sized from the baseline's rate (an upper
# bound for the real server), the timed pool (built by the generator between warm-up and timed
# phase) from the warm-up rate; both are capped so that building them stays quick.
BASELINE_BATCH_POOL = 1_000
BASELINE_SINGLE_POOL = 5_000
WARMUP_CAP_EVENTS = 40_000
MAX_UNIQUE_EVENTS = 1_500_000
MAX_UNIQUE_SINGLE = 400_000
POOL_HEADROOM = 2.0

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


# -- the baseline server -----------------------------------------------------------------------


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def baseline_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Read the body, gunzip it if needed, parse the JSON, answer 200 and forget it."""
    if scope["type"] != "http":
        return
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    if scope["path"] == "/_health":
        await _send_json(send, 200, b'{"status":"ok"}')
        return
    encoding = b""
    for name, value in scope["headers"]:
        if name == b"content-encoding":
            encoding = value.lower()
    try:
        if b"gzip" in encoding or body[:2] == b"\x1f\x8b":
            body = zlib.decompress(body, wbits=47)
        orjson.loads(body)
    except (zlib.error, orjson.JSONDecodeError):
        await _send_json(send, 400, b'{"status":0}')
        return
    await _send_json(send, 200, b'{"status":1}')


def run_baseline_server(port: int) -> None:
    import uvicorn

    config = uvicorn.Config(
        baseline_app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=30,
        server_header=False,
    )
    uvicorn.Server(config).run()


# -- processes ---------------------------------------------------------------------------------


def _system_busy_s() -> float:
    """CPU time all processes on the machine have used so far (all cores, from /proc/stat)."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in first[1:9])
    return (user + nice + system + irq + softirq + steal) / clock_ticks()


@contextlib.contextmanager
def _cleanup(servers: list[Server]) -> Iterator[None]:
    try:
        yield
    finally:
        for server in servers:
            if server.proc.poll() is None:
                server.proc.kill()
                server.proc.wait(30)


# -- one measurement ---------------------------------------------------------------------------


@dataclass
class Settings:
    duration: float
    warmup: float
    connections: int
    seed: int


@dataclass
class Run:
    """One workload against one server, as reported by the load generator."""

    label: str
    server: str
    data: dict[str, Any]
    server_cpu_s: float
    system_cpu_s: float

    @property
    def timed(self) -> dict[str, Any]:
        return dict(self.data["timed"])

    @property
    def warmup(self) -> dict[str, Any]:
        return dict(self.data["warmup"])

    @property
    def acked_events(self) -> int:
        return int(self.timed["acked_events"]) + int(self.warmup["acked_events"])

    def cpu_pct(self) -> dict[str, float]:
        """CPU use over the timed phase, in % of one core (the machine has os.cpu_count())."""
        elapsed = float(self.timed["elapsed_s"]) or 1e-9
        generator = float(self.timed["generator_cpu_s"])
        other = max(0.0, self.system_cpu_s - self.server_cpu_s - generator)
        return {
            "server": round(100 * self.server_cpu_s / elapsed, 1),
            "generator": round(100 * generator / elapsed, 1),
            "other": round(100 * other / elapsed, 1),
        }

    @property
    def errors(self) -> int:
        total = 0
        for phase in (self.warmup, self.timed):
            total += sum(phase["non_200"].values())
            total += phase["connection_errors"] + phase["unfinished"]
        return total


def run_load(
    server: Server,
    *,
    label: str,
    token: str,
    workload: str,
    requests: int,
    max_requests: int,
    cycle: bool,
    settings: Settings,
    run_tag: int,
    profiler: Profiler | None = None,
) -> Run:
    """Run `_load.py` against `server`; sample the server's CPU time (and run the profiler)
    over exactly the timed phase, which the generator marks on its stdout."""
    argv = [
        sys.executable,
        str(LOAD_SCRIPT),
        *("--port", str(server.port), "--token", token, "--workload", workload),
        *("--requests", str(requests), "--max-requests", str(max_requests)),
        *("--connections", str(settings.connections), "--duration", str(settings.duration)),
        *("--warmup", str(settings.warmup), "--seed", str(settings.seed)),
        *("--run-tag", str(run_tag), "--headroom", str(POOL_HEADROOM)),
    ]
    if cycle:
        argv.append("--cycle")
    print(f"  {label}: {server.name}, {settings.connections} connections", flush=True)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, cwd=REPO)
    # The generator bounds itself; this only guards against a hung process.
    watchdog = threading.Timer(600 + 3 * (settings.duration + settings.warmup + 30), proc.kill)
    watchdog.start()
    cpu_start = cpu_end = system_start = system_end = 0.0
    data: dict[str, Any] | None = None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            message = orjson.loads(line)
            mark = message.get("mark")
            if mark == "timed_start":
                if profiler is not None:
                    profiler.start(server.proc.pid)
                cpu_start = server.cpu_s()
                system_start = _system_busy_s()
            elif mark == "timed_end":
                cpu_end = server.cpu_s()
                system_end = _system_busy_s()
                if profiler is not None:
                    profiler.stop()
            else:
                data = message
        code = proc.wait()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if profiler is not None:
            profiler.stop()
    if code != 0 or data is None:
        raise RuntimeError(f"the load generator failed (exit code {code})")
    run = Run(label, server.name, data, cpu_end - cpu_start, system_end - system_start)
    _print_run(run)
    return run


def _print_run(run: Run) -> None:
    t = run.timed
    per_request = run.data["events_per_request"]
    rate = (
        f"{t['events_per_s']:>10,.0f} events/s ({t['req_per_s']:,.0f} req/s)"
        if per_request > 1
        else f"{t['req_per_s']:>10,.0f} req/s"
    )
    cpu = run.cpu_pct()
    problems = []
    if t["non_200"]:
        problems.append(f"non-200: {t['non_200']}")
    if t["connection_errors"] or t["unfinished"]:
        problems.append(f"connection errors {t['connection_errors']}, unfinished {t['unfinished']}")
    if cpu["other"] > BUSY_OTHERS_PCT:
        problems.append("other processes were busy: this run is skewed")
    if t["pool_exhausted"]:
        problems.append("request pool used up before the time was over")
    print(
        f"    {rate} | {t['ok']:,} ok in {t['elapsed_s']:.1f} s | "
        f"latency p50 {t['latency_ms_p50']} ms, p99 {t['latency_ms_p99']} ms | "
        f"CPU: server {cpu['server']:.0f}%, generator {cpu['generator']:.0f}%, "
        f"others {cpu['other']:.0f}%" + ("" if not problems else " | " + "; ".join(problems)),
        flush=True,
    )


class Profiler:
    """Runs `py-spy record` against a pid while one load run lasts (raw collapsed stacks)."""

    def __init__(self, py_spy: str, output: Path, *, native: bool = False) -> None:
        self._exe = py_spy
        self._output = output
        self._native = native
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, pid: int) -> None:
        argv = [self._exe, "record", "--pid", str(pid), "--format", "raw", "--threads"]
        argv += ["--rate", "100", "--output", str(self._output)]
        if self._native:
            argv.append("--native")
        self._proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(60)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
        print(f"    py-spy profile written to {self._output}", flush=True)
        self._proc = None


# -- the whole benchmark -----------------------------------------------------------------------


def _create_project(exe: Path, env: dict[str, str]) -> str:
    out = subprocess.run(
        [str(exe), "project", "create", "Bench", "--json"],
        env=env,
        capture_output=True,
        check=True,
        timeout=120,
    )
    return str(orjson.loads(out.stdout)["api_token"])


def _warmup_pool(rate_per_s: float, per_request: int, settings: Settings) -> int:
    """Requests for a unique warm-up; if the server outruns them the warm-up just ends early."""
    wanted = min(rate_per_s * settings.warmup * POOL_HEADROOM, WARMUP_CAP_EVENTS)
    return max(settings.connections * 2, math.ceil(wanted / per_request))


def _count_stored(data_dir: Path) -> int:
    import duckdb

    con = duckdb.connect(str(data_dir / "events.duckdb"), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM events").fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


def _ratio(value: float, base: float) -> float:
    return round(value / base, 3) if base else 0.0


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(
        duration=args.duration, warmup=args.warmup, connections=args.connections, seed=args.seed
    )
    quick_scale = 0.2 if args.quick else 1.0
    exe = userlens_exe()
    workdir = Path(tempfile.mkdtemp(prefix="userlens-bench-"))
    data_dir = workdir / "data"
    env = {**os.environ, "USERLENS_DATA_DIR": str(data_dir)}
    load_before = os.getloadavg()[0]
    print(
        f"userlens capture bench: {settings.duration:g} s per run (+{settings.warmup:g} s "
        f"warm-up), {settings.connections} connections, {os.cpu_count()} CPUs, "
        f"load average {load_before:.2f}, work dir {workdir}",
        flush=True,
    )
    if load_before > BUSY_LOAD:
        print(
            "  warning: the machine looks busy; other processes would skew the figures "
            "(see 'others' in each run's CPU use)",
            flush=True,
        )
    servers: list[Server] = []
    profile_dir = Path(args.profile).resolve() if args.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)

    def profiler(name: str) -> Profiler | None:
        if profile_dir is None:
            return None
        return Profiler(args.py_spy, profile_dir / f"{name}.txt", native=args.profile_native)

    try:
        with _cleanup(servers):
            token = _create_project(exe, env)
            userlens = Server.start("userlens", [str(exe), "serve"], env, workdir / "userlens.log")
            servers.append(userlens)
            baseline = Server.start(
                "baseline",
                [sys.executable, str(Path(__file__).resolve()), "--baseline-server"],
                dict(os.environ),
                workdir / "baseline.log",
            )
            servers.append(baseline)
            userlens.wait_ready()
            baseline.wait_ready()
            print(f"servers up: userlens :{userlens.port}, baseline :{baseline.port}", flush=True)

            print("batched: POST /batch/, 50 events per request, gzip", flush=True)
            base_batch = run_load(
                baseline,
                label="baseline batched",
                token=token,
                workload="batch",
                requests=max(50, int(BASELINE_BATCH_POOL * quick_scale)),
                max_requests=0,
                cycle=True,
                settings=settings,
                run_tag=1,
            )
            ul_batch = run_load(
                userlens,
                label="userlens batched",
                token=token,
                workload="batch",
                requests=_warmup_pool(base_batch.timed["events_per_s"], EVENTS_PER_BATCH, settings),
                max_requests=int(MAX_UNIQUE_EVENTS * quick_scale) // EVENTS_PER_BATCH,
                cycle=False,
                settings=settings,
                run_tag=2,
                profiler=profiler("userlens-batched"),
            )
            print("single: POST /i/v0/e/, 1 event per request, plain JSON", flush=True)
            base_single = run_load(
                baseline,
                label="baseline single",
                token=token,
                workload="single",
                requests=max(200, int(BASELINE_SINGLE_POOL * quick_scale)),
                max_requests=0,
                cycle=True,
                settings=settings,
                run_tag=3,
            )
            ul_single = run_load(
                userlens,
                label="userlens single",
                token=token,
                workload="single",
                requests=_warmup_pool(base_single.timed["req_per_s"], 1, settings),
                max_requests=int(MAX_UNIQUE_SINGLE * quick_scale),
                cycle=False,
                settings=settings,
                run_tag=4,
                profiler=profiler("userlens-single"),
            )

            peak_rss = userlens.peak_rss_mb()
            baseline_peak_rss = baseline.peak_rss_mb()
            print(
                f"userlens peak RSS {peak_rss:.0f} MB (now {userlens.rss_mb():.0f} MB); "
                f"baseline peak RSS {baseline_peak_rss:.0f} MB",
                flush=True,
            )
            stop_started = time.perf_counter()
            exit_code = userlens.stop()
            stop_s = time.perf_counter() - stop_started
            baseline.stop()
            # uvicorn re-raises the signal it stopped on, so a clean stop can also be -SIGTERM.
            if exit_code not in (0, -signal.SIGTERM):
                print(f"userlens exited with {exit_code}:\n{userlens.log_tail()}", flush=True)
            stored = _count_stored(data_dir)
    finally:
        if args.keep:
            print(f"kept {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    runs = (base_batch, ul_batch, base_single, ul_single)
    acked = ul_batch.acked_events + ul_single.acked_events
    events_per_s = float(ul_batch.timed["events_per_s"])
    baseline_events_per_s = float(base_batch.timed["events_per_s"])
    single = float(ul_single.timed["req_per_s"])
    baseline_single = float(base_single.timed["req_per_s"])
    result: dict[str, Any] = {
        "date": date.today().isoformat(),
        "cpus": os.cpu_count(),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "duration_s": settings.duration,
        "warmup_s": settings.warmup,
        "connections": settings.connections,
        "events_per_request": EVENTS_PER_BATCH,
        "json_bytes_per_event": ul_batch.data["json_bytes_per_event"],
        "gzip_bytes_per_batch": ul_batch.data["wire_bytes_per_request"],
        "events_per_s": events_per_s,
        "baseline_events_per_s": baseline_events_per_s,
        "ratio": _ratio(events_per_s, baseline_events_per_s),
        "batch_latency_ms_p50": ul_batch.timed["latency_ms_p50"],
        "batch_latency_ms_p99": ul_batch.timed["latency_ms_p99"],
        "single_req_per_s": single,
        "baseline_single_req_per_s": baseline_single,
        "single_ratio": _ratio(single, baseline_single),
        "single_latency_ms_p50": ul_single.timed["latency_ms_p50"],
        "single_latency_ms_p99": ul_single.timed["latency_ms_p99"],
        "peak_rss_mb": round(peak_rss, 1),
        "baseline_peak_rss_mb": round(baseline_peak_rss, 1),
        "stored_events": stored,
        "acked_events": acked,
        "acked_batch_events": ul_batch.acked_events,
        "acked_single_events": ul_single.acked_events,
        "all_durable": stored == acked,
        "shutdown_s": round(stop_s, 2),
        "server_exit_code": exit_code,
        "pool_exhausted": any(r.timed["pool_exhausted"] for r in runs),
        "cpu_pct": {r.label: r.cpu_pct() for r in runs},
        "skewed_runs": [r.label for r in runs if r.cpu_pct()["other"] > BUSY_OTHERS_PCT],
        "errors": sum(r.errors for r in runs),
        "errors_by_run": {r.label: r.errors for r in runs if r.errors},
    }
    result["targets_met"] = {
        "batched": result["ratio"] >= TARGET_RATIO and result["all_durable"],
        "single": result["single_ratio"] >= TARGET_RATIO,
        "peak_rss": result["peak_rss_mb"] <= TARGET_RSS_MB,
    }
    return result


def _print_summary(r: dict[str, Any]) -> None:
    def mark(ok: bool) -> str:
        return "met" if ok else "MISSED"

    met = r["targets_met"]
    print("summary:")
    print(
        f"  batched  {r['events_per_s']:>10,.0f} events/s vs baseline "
        f"{r['baseline_events_per_s']:,.0f}: ratio {r['ratio']:.2f} (target >= {TARGET_RATIO}, "
        f"durable: {r['stored_events']:,} stored / {r['acked_events']:,} acked) "
        f"{mark(met['batched'])}"
    )
    print(
        f"  single   {r['single_req_per_s']:>10,.0f} req/s    vs baseline "
        f"{r['baseline_single_req_per_s']:,.0f}: ratio {r['single_ratio']:.2f} "
        f"(target >= {TARGET_RATIO}) {mark(met['single'])}"
    )
    print(
        f"  peak RSS {r['peak_rss_mb']:>10,.0f} MB (target <= {TARGET_RSS_MB:.0f}) "
        f"{mark(met['peak_rss'])}; errors {r['errors']}; shutdown {r['shutdown_s']} s, "
        f"exit code {r['server_exit_code']}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Capture throughput of `userlens serve` against a bare uvicorn baseline."
    )
    parser.add_argument("--duration", type=float, default=None, help="Seconds per run (10).")
    parser.add_argument("--warmup", type=float, default=None, help="Warm-up seconds (2).")
    parser.add_argument("--connections", type=int, default=24, help="Concurrent connections.")
    parser.add_argument("--quick", action="store_true", help="Short runs, for smoke-testing.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="Keep the data dir and logs.")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="Record the timed phase of both userlens runs with py-spy (raw stacks) into DIR.",
    )
    parser.add_argument("--py-spy", default="py-spy", help="The py-spy command (for --profile).")
    parser.add_argument(
        "--profile-native", action="store_true", help="Include native frames in the profiles."
    )
    parser.add_argument("--baseline-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.baseline_server:
        if args.port is None:
            parser.error("--baseline-server needs --port")
        run_baseline_server(args.port)
        return 0
    if args.duration is None:
        args.duration = 2.0 if args.quick else 10.0
    if args.warmup is None:
        args.warmup = 0.5 if args.quick else 2.0
    if args.duration <= 0 or args.warmup < 0 or args.connections < 1:
        parser.error("--duration must be > 0, --warmup >= 0 and --connections >= 1")
    if args.profile and shutil.which(args.py_spy) is None:
        parser.error(f"--profile needs py-spy: {args.py_spy!r} not found (see --py-spy)")
    try:
        result = run_bench(args)
    except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    _print_summary(result)
    print(orjson.dumps(result).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
