"""What session recording costs a page: our snippet against bare `@rrweb/record`, in Chromium.

Run it with `.venv/bin/python bench/sdk_overhead.py` (part of `make bench`). It is a benchmark,
not a test: it prints figures as it goes and, as its last line, one JSON object with all of them.

The same page (the Lensware Shop fixture, `tests/e2e/shop`) and the same scripted visitor run
in headless Chromium under three setups:

- `none`: the page with no analytics at all;
- `rrweb`: the page loads `sdk/dist/rrweb-record.js` (bare `@rrweb/record`, from a local sink
  server) and calls `rrwebRecord({emit})` with rrweb's defaults; a minimal sender JSON-encodes
  the buffered events every 2 s, gzips them with the browser's CompressionStream and POSTs them
  to the sink, and hands what is left to sendBeacon (plain JSON) when the page goes away: data
  sent the same way, at the same cadence and compressed the same way as our recorder's;
- `userlens`: our snippet (`/static/userlens.js` + `userlens.init`) against a real
  `userlens serve` on a temporary data dir, recording (on by default), so with autocapture,
  page views, error capture and the lazily loaded recorder with console and network capture.

The visitor signs in (typing email and password), browses, adds products, goes to the cart
and checkout, types an address, hits the broken and the dead buttons, moves the mouse, scrolls,
goes back and forth; about 30 s from the moment recording runs to the page's close. Each setup
runs `--runs` times (3), interleaved, in a fresh browser context; figures are medians.

Per run: main-thread script time (CDP `Performance.getMetrics` ScriptDuration, collected from
before the page loads to the end of the visit), JS heap used at the end (JSHeapUsedSize, after a
forced GC; the figure before it too), and the bytes of the request bodies sent for recording
(`page.on("request")` `post_data_buffer`, including the sendBeacon when the page is closed),
per recorded minute. For `userlens`, also the event bytes to `/i/v0/e/`; the bytes stored for
the recording (the zstd blobs under the data dir, measured after a SIGTERM stop), per recorded
minute, as received (one chunk per request) and as kept (after the server's compaction of
finished recordings, which the bench triggers at once by restarting the server with
`USERLENS_COMPACT_AFTER_S=0`); and their ratio to the raw JSON of the recorded rrweb events
(the snapshots API's events, compact JSON as the browser's JSON.stringify writes it, without
the `windowId` the API adds to each).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.server
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import (
    Browser,
    BrowserContext,
    CDPSession,
    Page,
    Request,
    ViewportSize,
    sync_playwright,
)

from _procs import free_port, userlens_exe

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.e2e.shop_server import ShopServer  # noqa: E402

RRWEB_JS = REPO / "sdk" / "dist" / "rrweb-record.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 640}
SETUPS = ("none", "rrweb", "userlens")
EMAIL = "buyer@lensware.test"
PASSWORD = "hunter2-Secret-PASS"  # noqa: S105 - typed into the fixture's login form
ADDRESS = "1 Lens Lane, 4242 Focus City"
TARGET_SCRIPT_RATIO = 1.15
TARGET_BYTES_RATIO = 1.0
TARGET_STORED_RATIO = 0.1

RRWEB_SNIPPET = """<script src="%(sink)s/rrweb-record.js"></script>
<script>
(function () {
  var url = "%(sink)s/sink";
  var buffer = [];
  window.__benchRecording = false;
  rrwebRecord({ emit: function (e) { buffer.push(e); } });
  window.__benchRecording = true;
  function take() { var text = JSON.stringify(buffer); buffer = []; return text; }
  setInterval(function () {
    if (!buffer.length) return;
    var stream = new Blob([take()]).stream().pipeThrough(new CompressionStream("gzip"));
    new Response(stream).arrayBuffer().then(function (body) {
      return fetch(url, { method: "POST", body: body, credentials: "omit",
                          headers: { "Content-Type": "text/plain" } });
    }).catch(function () {});
  }, 2000);
  function leave() {
    if (buffer.length) navigator.sendBeacon(url, new Blob([take()], { type: "text/plain" }));
  }
  addEventListener("pagehide", leave);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") leave();
  });
})();
</script>"""
USERLENS_SNIPPET = """<script src="%(api)s/static/userlens.js"></script>
<script>userlens.init(%(token)s, {api_host: "%(api)s"})</script>"""
READY = {
    "none": "",
    "rrweb": "window.__benchRecording === true",
    "userlens": "window.userlens && userlens.session_recording_started()",
}


# -- local servers -------------------------------------------------------------------------------


class _SinkHandler(http.server.BaseHTTPRequestHandler):
    server: _SinkServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self._cors()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/rrweb-record.js":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.server.rrweb_js
        self.send_response(200)
        self.send_header("Content-Type", "text/javascript; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received(body)
        self.send_response(200)
        self._cors()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "12")
        self.end_headers()
        self.wfile.write(b'{"status":1}')


class _SinkServer(http.server.ThreadingHTTPServer):
    """Serves rrweb-record.js and takes the baseline's recording POSTs, keeping only counts."""

    daemon_threads = True

    def __init__(self, rrweb_js: bytes) -> None:
        self.rrweb_js = rrweb_js
        self.lock = threading.Lock()
        self.requests = 0
        self.wire_bytes = 0
        self.json_bytes = 0
        self.events = 0
        super().__init__(("127.0.0.1", 0), _SinkHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def received(self, body: bytes) -> None:
        raw = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        events = json.loads(raw) if raw else []
        with self.lock:
            self.requests += 1
            self.wire_bytes += len(body)
            self.json_bytes += len(raw)
            self.events += len(events)

    def take_counts(self) -> dict[str, int]:
        with self.lock:
            out = {
                "requests": self.requests,
                "wire_bytes": self.wire_bytes,
                "json_bytes": self.json_bytes,
                "events": self.events,
            }
            self.requests = self.wire_bytes = self.json_bytes = self.events = 0
        return out


@contextlib.contextmanager
def sink_server() -> Iterator[_SinkServer]:
    sink = _SinkServer(RRWEB_JS.read_bytes())
    thread = threading.Thread(target=sink.serve_forever, name="sink", daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        sink.shutdown()
        sink.server_close()


@dataclass
class Userlens:
    """A `userlens serve` process on a temporary data dir, with an admin's API token."""

    data_dir: Path
    log_path: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    auth: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "USERLENS_DATA_DIR": str(self.data_dir), **self.extra_env}

    def cli(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run(
            [str(userlens_exe()), *args],
            input=stdin.encode() if stdin is not None else None,
            env=self.env,
            capture_output=True,
            check=True,
            timeout=120,
        )
        return out.stdout.decode()

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.auth:
            self.cli("user", "create", "bench@userlens.test", "--admin", stdin="bench-pass-1234\n")
            token = json.loads(self.cli("token", "create", "bench@userlens.test", "--json"))
            self.auth = {"Authorization": f"Bearer {token['token']}"}
        self.port = free_port()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(userlens_exe()), "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"userlens serve exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/_health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("userlens serve did not answer /_health in 60 s")

    def create_project(self, name: str) -> dict[str, Any]:
        project: dict[str, Any] = json.loads(self.cli("project", "create", name, "--json"))
        return project

    def get(self, path: str) -> Any:
        res = httpx.get(f"{self.url}{path}", headers=self.auth, timeout=30)
        res.raise_for_status()
        return res.json()

    def stop(self) -> int | None:
        """SIGTERM and wait for a graceful exit (everything flushed); kill if it hangs."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
                return None
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def recording_blobs(self, project_id: int) -> list[Path]:
        """The project's recording chunks: one `<key>@blob` file per stored chunk."""
        root = self.data_dir / "blobs" / "recordings" / str(project_id)
        return sorted(p for p in root.rglob("*@blob") if p.is_file() and p.name[0] != ".")


# -- the visitor ---------------------------------------------------------------------------------


def _sweep(page: Page, points: list[tuple[int, int]], steps: int = 12) -> None:
    """Move the mouse through `points`, `steps` mousemove events per segment."""
    for x, y in points:
        page.mouse.move(x, y, steps=steps)
        page.wait_for_timeout(40)


def _scroll(page: Page, amounts: list[int]) -> None:
    for dy in amounts:
        page.mouse.wheel(0, dy)
        page.wait_for_timeout(250)


def visit(page: Page) -> None:
    """The scripted visitor: the same actions, in the same order, with the same pauses, for
    every setup. About 30 s of wall time; the page is already loaded and recording."""
    # Sign in.
    _sweep(page, [(200, 120), (640, 250), (600, 300)])
    page.click("#email")
    page.keyboard.type(EMAIL, delay=45)
    page.click("#password")
    page.keyboard.type(PASSWORD, delay=45)
    page.wait_for_timeout(400)
    page.click("#sign-in")
    page.wait_for_selector("text=In stock")
    # Browse and add to the cart.
    _sweep(page, [(300, 300), (700, 320), (900, 420), (400, 500)])
    _scroll(page, [300, 300, -200, 400, -800])
    for sku in ("mug", "notebook", "tote", "mug", "hoodie"):
        page.click(f"button.add[data-sku={sku}]")
        page.wait_for_timeout(350)
    page.click("#secret-promo")
    page.wait_for_timeout(500)
    # Cart, then checkout.
    page.click("#nav-cart")
    page.wait_for_selector("text=Your cart")
    _sweep(page, [(500, 250), (800, 350), (640, 450)])
    _scroll(page, [200, -200])
    page.click("#to-checkout")
    page.click("#address")
    page.keyboard.type(ADDRESS, delay=45)
    page.wait_for_timeout(400)
    page.click("#pay")  # the page throws
    page.wait_for_timeout(500)
    box = page.locator("#coupon").bounding_box()
    if box is not None:
        for _ in range(4):  # rage clicks on the dead button
            page.mouse.click(box["x"] + 10, box["y"] + 5, delay=20)
            page.wait_for_timeout(60)
    page.wait_for_timeout(1200)
    # Back and forth.
    page.go_back()  # popstate: the cart
    page.wait_for_selector("text=Your cart")
    page.wait_for_timeout(600)
    page.go_forward()  # checkout again
    page.wait_for_selector("#address")
    page.wait_for_timeout(600)
    page.click("#back")  # to the products
    page.wait_for_selector("text=In stock")
    _sweep(page, [(250, 280), (1000, 300), (640, 520), (300, 200)])
    _scroll(page, [400, -400])
    page.click("button.add[data-sku=tote]")
    page.wait_for_timeout(400)
    page.go_back()
    page.wait_for_selector("#address")
    page.wait_for_timeout(600)
    page.click("#nav-products")
    page.wait_for_selector("text=In stock")
    _sweep(page, [(640, 300), (200, 500), (900, 150)])
    # A second look at the cart and checkout: a new address, the buttons again.
    page.click("#nav-cart")
    page.wait_for_selector("text=Your cart")
    _sweep(page, [(400, 300), (900, 380), (640, 200)])
    _scroll(page, [300, -300])
    page.click("#to-checkout")
    page.click("#address")
    page.keyboard.press("Control+A")
    page.keyboard.type("22 Shutter Street, Apt 5", delay=45)
    page.wait_for_timeout(400)
    page.click("#coupon")
    page.wait_for_timeout(800)
    page.click("#pay")
    page.wait_for_timeout(600)
    _sweep(page, [(300, 400), (1000, 250), (640, 350)])
    page.go_back()
    page.wait_for_selector("text=Your cart")
    page.wait_for_timeout(600)
    page.click("#nav-products")
    page.wait_for_selector("text=In stock")
    for sku in ("notebook", "hoodie"):
        page.click(f"button.add[data-sku={sku}]")
        page.wait_for_timeout(350)
    _scroll(page, [500, -500])
    _sweep(page, [(350, 330), (950, 330), (640, 480), (640, 120)])
    page.click("#nav-cart")
    page.wait_for_selector("text=Your cart")
    _sweep(page, [(700, 300), (500, 420)])
    page.wait_for_timeout(2500)  # the last timed flush


# -- one run -------------------------------------------------------------------------------------


@dataclass
class RunResult:
    setup: str
    recorded_s: float
    script_ms: float
    task_ms: float
    heap_bytes: int
    heap_before_gc_bytes: int
    recording_requests: int
    recording_bytes: int
    recording_bytes_per_min: float
    event_requests: int = 0
    event_bytes: int = 0
    event_bytes_per_min: float = 0.0
    other_post_bytes: int = 0
    missing_bodies: int = 0
    recording_request_sizes: list[int] = field(default_factory=list)
    sink: dict[str, int] = field(default_factory=dict)
    rrweb_events: int = 0
    raw_json_bytes: int = 0
    raw_json_bytes_per_min: float = 0.0
    stored_bytes: int = 0
    stored_bytes_per_min: float = 0.0
    stored_to_raw: float = 0.0
    stored_chunks: int = 0
    received_bytes: int = 0
    received_chunks: int = 0
    received_to_raw: float = 0.0
    project_id: int = 0


@dataclass
class _Posts:
    recording: list[int] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    other: list[int] = field(default_factory=list)
    missing: int = 0


def _metrics(cdp: CDPSession) -> dict[str, float]:
    return {m["name"]: float(m["value"]) for m in cdp.send("Performance.getMetrics")["metrics"]}


def run_once(
    context: BrowserContext,
    setup: str,
    shop_url: str,
    recording_prefix: str,
    events_prefix: str,
) -> RunResult:
    """One visit in a fresh context."""
    posts = _Posts()

    def on_request(request: Request) -> None:
        if request.method != "POST":
            return
        try:
            body = request.post_data_buffer
        except Exception:  # a body Playwright cannot give is counted as missing
            body = None
        if body is None:
            posts.missing += 1
            size = 0
        else:
            size = len(body)
        url = request.url
        if recording_prefix and url.startswith(recording_prefix):
            posts.recording.append(size)
        elif events_prefix and url.startswith(events_prefix):
            posts.events.append(size)
        else:
            posts.other.append(size)

    context.on("request", on_request)
    page = context.new_page()
    # A document of the shop's origin without scripts first, so that metrics are enabled in
    # the renderer that then loads the page (same site, same process).
    page.goto(shop_url + "/style.css")
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
    before = _metrics(cdp)
    page.goto(shop_url + "/login")
    if READY[setup]:
        page.wait_for_function(READY[setup], timeout=30_000)
    started = time.monotonic()
    visit(page)
    after = _metrics(cdp)
    cdp.send("HeapProfiler.collectGarbage")
    heap = _metrics(cdp)["JSHeapUsedSize"]
    cdp.detach()
    closed = time.monotonic()
    page.close()  # pagehide: what is left goes out by sendBeacon
    recorded_s = closed - started
    per_min = 60.0 / recorded_s
    result = RunResult(
        setup=setup,
        recorded_s=round(recorded_s, 2),
        script_ms=round((after["ScriptDuration"] - before["ScriptDuration"]) * 1000, 1),
        task_ms=round((after["TaskDuration"] - before["TaskDuration"]) * 1000, 1),
        heap_bytes=int(heap),
        heap_before_gc_bytes=int(after["JSHeapUsedSize"]),
        recording_requests=len(posts.recording),
        recording_bytes=sum(posts.recording),
        recording_bytes_per_min=round(sum(posts.recording) * per_min),
        event_requests=len(posts.events),
        event_bytes=sum(posts.events),
        event_bytes_per_min=round(sum(posts.events) * per_min),
        other_post_bytes=sum(posts.other),
        missing_bodies=posts.missing,
        recording_request_sizes=posts.recording,
    )
    return result


def _stable_snapshots(server: Userlens, project_id: int) -> list[dict[str, Any]]:
    """Every recorded rrweb event of the project, once the count stops growing (bounded)."""
    base = f"/api/projects/{project_id}"
    deadline = time.monotonic() + 20
    last = -1
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        sessions = server.get(f"{base}/sessions?limit=500")["results"]
        events = []
        for session in sessions:
            body = server.get(f"{base}/sessions/{session['session_id']}/snapshots")
            events.extend(body.get("events", []))
        if events and len(events) == last:
            return events
        last = len(events)
        time.sleep(1.0)
    return events


def _raw_json_bytes(events: list[dict[str, Any]]) -> int:
    plain = [{k: v for k, v in e.items() if k != "windowId"} for e in events]
    return len(json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode())


# -- the whole benchmark -------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def _summarize(runs: list[RunResult]) -> dict[str, Any]:
    keys = (
        "recorded_s",
        "script_ms",
        "task_ms",
        "heap_bytes",
        "heap_before_gc_bytes",
        "recording_requests",
        "recording_bytes",
        "recording_bytes_per_min",
        "event_bytes",
        "event_bytes_per_min",
        "rrweb_events",
        "raw_json_bytes",
        "raw_json_bytes_per_min",
        "stored_bytes",
        "stored_bytes_per_min",
        "stored_to_raw",
        "stored_chunks",
        "received_bytes",
        "received_chunks",
        "received_to_raw",
    )
    out: dict[str, Any] = {}
    for key in keys:
        value = _median([float(getattr(r, key)) for r in runs])
        out[key] = round(value, 4) if key.endswith("_to_raw") else round(value, 1)
    out["script_ms_runs"] = [r.script_ms for r in runs]
    return out


def _ratio(value: float, base: float) -> float:
    return round(value / base, 3) if base else 0.0


def _print_run(r: RunResult) -> None:
    line = (
        f"    {r.setup:<8} {r.recorded_s:5.1f} s recorded | script {r.script_ms:7.1f} ms "
        f"(tasks {r.task_ms:7.1f} ms) | heap {r.heap_bytes / 1e6:5.1f} MB "
        f"({r.heap_before_gc_bytes / 1e6:.1f} before GC) | recording "
        f"{r.recording_bytes:>8,} B in {r.recording_requests} requests "
        f"({r.recording_bytes_per_min / 1024:.1f} KiB/min)"
    )
    if r.setup == "userlens":
        line += (
            f" | events {r.event_bytes:,} B in {r.event_requests} requests | "
            f"raw JSON {r.raw_json_bytes:,} B ({r.rrweb_events} rrweb events)"
        )
    if r.setup == "rrweb":
        line += (
            f" | sink got {r.sink.get('wire_bytes', 0):,} B, "
            f"raw JSON {r.raw_json_bytes:,} B ({r.rrweb_events} rrweb events)"
        )
    if r.missing_bodies:
        line += f" | {r.missing_bodies} request bodies not seen"
    print(line, flush=True)


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="userlens-sdk-bench-"))
    server = Userlens(data_dir=workdir / "data", log_path=workdir / "userlens.log")
    runs: dict[str, list[RunResult]] = {s: [] for s in SETUPS}
    load_before = os.getloadavg()[0]
    bench_started = time.monotonic()
    print(
        f"sdk overhead bench: {args.runs} runs per setup, {os.cpu_count()} CPUs, "
        f"load average {load_before:.2f}, work dir {workdir}",
        flush=True,
    )
    exit_code: int | None = None
    try:
        server.start()
        print(f"userlens serve up on :{server.port}", flush=True)
        with sink_server() as sink, sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            try:
                for i in range(args.runs):
                    print(f"  round {i + 1}/{args.runs}", flush=True)
                    # The order turns each round, so that no setup always runs first.
                    for k in range(len(SETUPS)):
                        setup = SETUPS[(i + k) % len(SETUPS)]
                        runs[setup].append(_one(browser, setup, i, server, sink))
            finally:
                browser.close()
        for r in runs["userlens"]:
            r.raw_json_bytes_per_min = round(r.raw_json_bytes * 60 / r.recorded_s)
        stop_started = time.perf_counter()
        exit_code = server.stop()
        print(
            f"userlens serve stopped (SIGTERM) in {time.perf_counter() - stop_started:.1f} s, "
            f"exit code {exit_code}",
            flush=True,
        )
        for r in runs["userlens"]:
            _measure_received(server, r)
        # Then as kept: the server compacts finished recordings; here "finished" is at once.
        server.extra_env = {"USERLENS_COMPACT_AFTER_S": "0", "USERLENS_COMPACTION_INTERVAL_S": "1"}
        server.start()
        _wait_for_compaction(server, [r.project_id for r in runs["userlens"]])
        server.stop()
        for r in runs["userlens"]:
            _measure_stored(server, r)
    finally:
        server.kill()
        if args.keep:
            print(f"kept {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return _result(runs, load_before, time.monotonic() - bench_started, exit_code)


def _window_blobs(server: Userlens, project_id: int) -> dict[str, int]:
    """How many blobs each recorded (session, window) of the project has."""
    counts: dict[str, int] = {}
    for blob in server.recording_blobs(project_id):
        window = str(blob.parent)
        counts[window] = counts.get(window, 0) + 1
    return counts


def _wait_for_compaction(server: Userlens, project_ids: list[int]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all(max(_window_blobs(server, p).values(), default=1) == 1 for p in project_ids):
            return
        time.sleep(0.5)
    raise RuntimeError(f"recordings were not compacted in 120 s:\n{server.log_tail()}")


def _measure_received(server: Userlens, r: RunResult) -> None:
    """Bytes of the run's recording on disk as it arrived: one zstd chunk per request."""
    blobs = server.recording_blobs(r.project_id)
    r.received_chunks = len(blobs)
    r.received_bytes = sum(p.stat().st_size for p in blobs)
    r.received_to_raw = round(r.received_bytes / r.raw_json_bytes, 4) if r.raw_json_bytes else 0.0


def _measure_stored(server: Userlens, r: RunResult) -> None:
    """Bytes of the run's recording on disk once compacted, against its raw JSON."""
    blobs = server.recording_blobs(r.project_id)
    r.stored_chunks = len(blobs)
    r.stored_bytes = sum(p.stat().st_size for p in blobs)
    r.stored_bytes_per_min = round(r.stored_bytes * 60 / r.recorded_s)
    r.stored_to_raw = round(r.stored_bytes / r.raw_json_bytes, 4) if r.raw_json_bytes else 0.0
    print(
        f"    userlens run: stored {r.stored_bytes:,} B in {r.stored_chunks} blobs for "
        f"{r.raw_json_bytes:,} B of raw JSON: {r.stored_to_raw:.3f} "
        f"(as received: {r.received_bytes:,} B in {r.received_chunks} chunks, "
        f"{r.received_to_raw:.3f})",
        flush=True,
    )


def _one(
    browser: Browser, setup: str, index: int, server: Userlens, sink: _SinkServer
) -> RunResult:
    project: dict[str, Any] = {}
    if setup == "rrweb":
        snippet = RRWEB_SNIPPET % {"sink": sink.url}
        recording_prefix, events_prefix = f"{sink.url}/sink", ""
    elif setup == "userlens":
        project = server.create_project(f"Overhead {index + 1}")
        snippet = USERLENS_SNIPPET % {
            "api": server.url,
            "token": json.dumps(project["api_token"]),
        }
        recording_prefix, events_prefix = f"{server.url}/s/", f"{server.url}/i/v0/e/"
    else:
        snippet, recording_prefix, events_prefix = "", "", ""
    sink.take_counts()
    with ShopServer(snippet) as shop:
        context = browser.new_context(viewport=VIEWPORT)
        try:
            result = run_once(context, setup, shop.base_url, recording_prefix, events_prefix)
        finally:
            context.close()
    if setup == "rrweb":
        time.sleep(0.5)  # the beacon reaches the sink after the page is gone
        result.sink = sink.take_counts()
        result.rrweb_events = result.sink["events"]
        result.raw_json_bytes = result.sink["json_bytes"]
        result.raw_json_bytes_per_min = round(result.raw_json_bytes * 60 / result.recorded_s)
    if setup == "userlens":
        result.project_id = int(project["id"])
        events = _stable_snapshots(server, result.project_id)
        result.rrweb_events = len(events)
        result.raw_json_bytes = _raw_json_bytes(events)
    _print_run(result)
    return result


def _result(
    runs: dict[str, list[RunResult]], load_before: float, elapsed_s: float, exit_code: int | None
) -> dict[str, Any]:
    med = {setup: _summarize(rs) for setup, rs in runs.items()}
    a, b, c = med["none"], med["rrweb"], med["userlens"]
    script_ratio = _ratio(c["script_ms"], b["script_ms"])
    bytes_ratio = _ratio(c["recording_bytes_per_min"], b["recording_bytes_per_min"])
    stored_ratio = c["stored_to_raw"]
    extra_b = b["script_ms"] - a["script_ms"]
    extra_c = c["script_ms"] - a["script_ms"]
    result: dict[str, Any] = {
        "date": date.today().isoformat(),
        "cpus": os.cpu_count(),
        "runs_per_setup": len(runs["none"]),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "elapsed_s": round(elapsed_s, 1),
        "median": med,
        "script_ratio": script_ratio,
        "script_over_none_ms": {"rrweb": round(extra_b, 1), "userlens": round(extra_c, 1)},
        "script_over_none_ratio": _ratio(extra_c, extra_b),
        "heap_ratio": _ratio(c["heap_bytes"], b["heap_bytes"]),
        "bytes_ratio": bytes_ratio,
        "raw_json_ratio": _ratio(c["raw_json_bytes_per_min"], b["raw_json_bytes_per_min"]),
        "event_bytes_per_min": c["event_bytes_per_min"],
        "stored_bytes_per_min": c["stored_bytes_per_min"],
        "stored_to_raw": stored_ratio,
        "received_to_raw": c["received_to_raw"],
        "server_exit_code": exit_code,
        "runs": {setup: [asdict(r) for r in rs] for setup, rs in runs.items()},
    }
    result["targets_met"] = {
        "script_time": 0 < script_ratio <= TARGET_SCRIPT_RATIO,
        "bytes": 0 < bytes_ratio <= TARGET_BYTES_RATIO,
        "stored_to_raw": 0 < stored_ratio <= TARGET_STORED_RATIO,
    }
    return result


def _print_summary(r: dict[str, Any]) -> None:
    med = r["median"]
    print(f"summary (medians of {r['runs_per_setup']} runs):")
    print(
        f"  {'setup':<22} {'script ms':>10} {'tasks ms':>10} {'heap MB':>8} "
        f"{'rec KiB/min':>12} {'raw JSON KiB/min':>17} {'events KiB/min':>15}"
    )
    names = {
        "none": "(a) no recording",
        "rrweb": "(b) bare @rrweb/record",
        "userlens": "(c) userlens snippet",
    }
    for setup, name in names.items():
        m = med[setup]
        print(
            f"  {name:<22} {m['script_ms']:>10.1f} {m['task_ms']:>10.1f} "
            f"{m['heap_bytes'] / 1e6:>8.1f} {m['recording_bytes_per_min'] / 1024:>12.1f} "
            f"{m['raw_json_bytes_per_min'] / 1024:>17.1f} {m['event_bytes_per_min'] / 1024:>15.1f}"
        )
    c = med["userlens"]
    print(
        f"  (c) stored {c['stored_bytes_per_min'] / 1024:.1f} KiB/min of recording once "
        f"compacted, {c['stored_to_raw']:.3f} of its raw JSON in {c['stored_chunks']:.0f} blobs "
        f"(as received: {c['received_to_raw']:.3f} in {c['received_chunks']:.0f} chunks)"
    )
    print(
        f"  (c)/(b): script time {r['script_ratio']:.3f}, recording bytes {r['bytes_ratio']:.3f}, "
        f"raw JSON {r['raw_json_ratio']:.3f}, heap {r['heap_ratio']:.3f}; script time over (a): "
        f"(b) +{r['script_over_none_ms']['rrweb']:.0f} ms, "
        f"(c) +{r['script_over_none_ms']['userlens']:.0f} ms"
    )

    def mark(ok: bool) -> str:
        return "met" if ok else "NOT MET"

    met = r["targets_met"]
    print("targets:")
    print(
        f"  (c) script time <= {TARGET_SCRIPT_RATIO}x (b): {r['script_ratio']:.3f} "
        f"{mark(met['script_time'])}"
    )
    print(
        f"  (c) recording bytes <= {TARGET_BYTES_RATIO}x (b): {r['bytes_ratio']:.3f} "
        f"{mark(met['bytes'])}"
    )
    print(
        f"  stored / raw JSON <= {TARGET_STORED_RATIO}: {r['stored_to_raw']:.3f} "
        f"{mark(met['stored_to_raw'])}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Page cost of session recording: Userlens snippet vs bare @rrweb/record."
    )
    parser.add_argument("--runs", type=int, default=3, help="Runs per setup (3); medians.")
    parser.add_argument("--keep", action="store_true", help="Keep the data dir and server log.")
    args = parser.parse_args(argv)
    if not RRWEB_JS.exists():
        raise SystemExit(f"{RRWEB_JS} is missing: build the SDK first (`cd sdk && node build.mjs`)")
    result = run_bench(args)
    _print_summary(result)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
