"""Load generator for `bench/capture.py`: realistic posthog-js events and a lean HTTP/1.1 client.

Run as its own process (`python bench/_load.py ...`) so that it does not share an interpreter
with the orchestrator. It builds every request as raw bytes first, then opens N keep-alive
connections to 127.0.0.1, drives a warm-up phase and a timed phase, and writes JSON lines on
stdout: `{"mark": "timed_start"}`, `{"mark": "timed_end"}` and finally the results. Progress goes
to stderr.

By default every request is used once, as a server that deduplicates events by uuid needs: the
warm-up uses `--requests` requests, the timed phase a pool built after the warm-up from its rate
(times `--headroom`, at most `--max-requests`), and it ends early if that pool runs out. With
`--cycle` (for the baseline, which keeps nothing) one pool is reused for both phases.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gzip
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import orjson

EVENTS_PER_BATCH = 50
USERS = 10_000
HOST = "127.0.0.1"
LIB_VERSION = "1.200.2"
SITE = "https://app.example.com"

# Browser profiles: (browser, version, os, os version, device type, user agent, screen w, h).
_PROFILES: tuple[tuple[str, str, str, str, str, str, int, int], ...] = (
    (
        "Chrome",
        "131",
        "Mac OS X",
        "10.15.7",
        "Desktop",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        1728,
        1117,
    ),
    (
        "Chrome",
        "131",
        "Windows",
        "10.0",
        "Desktop",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        1920,
        1080,
    ),
    (
        "Firefox",
        "133",
        "Windows",
        "10.0",
        "Desktop",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        2560,
        1440,
    ),
    (
        "Safari",
        "18.1",
        "Mac OS X",
        "10.15.7",
        "Desktop",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        1512,
        982,
    ),
    (
        "Mobile Safari",
        "18.1",
        "iOS",
        "18.1",
        "Mobile",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        393,
        852,
    ),
    (
        "Chrome",
        "131",
        "Android",
        "14",
        "Mobile",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        412,
        915,
    ),
    (
        "Microsoft Edge",
        "131",
        "Windows",
        "10.0",
        "Desktop",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        1920,
        1200,
    ),
)
_PROFILE_WEIGHTS = (30, 22, 8, 12, 14, 10, 4)
_USER_AGENT = _PROFILES[0][5]

_PATHS = (
    "/",
    "/dashboard",
    "/projects",
    "/projects/{n}",
    "/projects/{n}/settings",
    "/insights",
    "/insights/{n}",
    "/settings/billing",
    "/settings/team",
    "/pricing",
    "/docs/getting-started",
    "/docs/api/{n}",
    "/search",
)
_QUERIES = (
    "",
    "",
    "",
    "",
    "?tab=overview",
    "?utm_source=google&utm_medium=cpc&utm_campaign=brand",
    "?utm_source=newsletter&utm_medium=email&utm_campaign=nov-2026",
    "?q=retention+cohort",
)
_REFERRERS = (
    "$direct",
    "$direct",
    "https://www.google.com/",
    "https://news.ycombinator.com/",
    "https://twitter.com/",
    "https://github.com/example/app",
)
_TIMEZONES = ("Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Tokyo", "UTC")
_LANGUAGES = ("en-US", "en-GB", "de-DE", "fr-FR", "ja-JP")

# Event mix: (name, weight). Custom events take the remaining names from `_CUSTOM`.
_MIX = (
    ("$pageview", 30),
    ("$autocapture", 36),
    ("$pageleave", 8),
    ("$web_vitals", 3),
    ("$rageclick", 1),
    ("$identify", 1),
    ("custom", 21),
)
_CUSTOM = (
    "project_created",
    "insight_viewed",
    "filter_applied",
    "export_clicked",
    "search_performed",
    "invite_sent",
    "plan_upgrade_started",
)
_ELEMENTS = (
    (
        'button.btn.btn-primary:attr__class="btn btn-primary"attr__type="submit"nth-child="2"'
        'nth-of-type="1"text="Save changes"'
    ),
    (
        'a.nav-link:attr__class="nav-link"attr__href="/insights"href="/insights"nth-child="3"'
        'nth-of-type="3"text="Insights"'
    ),
    ('span.label:attr__class="label"nth-child="1"nth-of-type="1"text="Export CSV"'),
    (
        'input.search-input:attr__class="search-input"attr__name="q"attr__placeholder="Search"'
        'attr__type="search"nth-child="1"nth-of-type="1"'
    ),
    (
        'a.card-link:attr__class="card-link"attr__href="/projects/42"href="/projects/42"'
        'nth-child="1"nth-of-type="1"text="Marketing site"'
    ),
)
_ELEMENT_PARENTS = (
    'div.toolbar.flex:attr__class="toolbar flex"nth-child="1"nth-of-type="1";'
    'main.content:attr__class="content"nth-child="2"nth-of-type="1";'
    'div#root:attr__id="root"nth-child="1"nth-of-type="1";body:nth-child="2"nth-of-type="1"'
)


@dataclasses.dataclass(slots=True)
class _User:
    distinct_id: str
    device_id: str
    session_id: str
    window_id: str
    profile: tuple[str, str, str, str, str, str, int, int]
    timezone: str
    language: str
    referrer: str
    identified: bool


class EventFactory:
    """Makes posthog-js-like events with unique uuids (unique per `run_tag` and counter)."""

    def __init__(self, token: str, seed: int, run_tag: int) -> None:
        if not 0 <= run_tag < 0x1000:
            raise ValueError("run_tag must fit in 12 bits")
        self._token = token
        self._rng = random.Random(seed * 7919 + run_tag)
        self._run_tag = run_tag
        self._counter = 0
        self._names = [name for name, _ in _MIX]
        self._weights = [weight for _, weight in _MIX]
        self._base_ms = int(time.time() * 1000)
        # The user pool is the same for every run of one seed, so people recur across runs.
        user_rng = random.Random(seed)
        self._users = [self._make_user(user_rng, i) for i in range(USERS)]

    @staticmethod
    def _make_user(rng: random.Random, index: int) -> _User:
        identified = rng.random() < 0.3
        distinct_id = f"user_{index:05d}@example.com" if identified else _rand_uuid(rng, version=7)
        return _User(
            distinct_id=distinct_id,
            device_id=_rand_uuid(rng, version=7),
            session_id=_rand_uuid(rng, version=7),
            window_id=_rand_uuid(rng, version=7),
            profile=rng.choices(_PROFILES, _PROFILE_WEIGHTS)[0],
            timezone=rng.choice(_TIMEZONES),
            language=rng.choice(_LANGUAGES),
            referrer=rng.choice(_REFERRERS),
            identified=identified,
        )

    def _uuid(self, ms: int) -> str:
        """A UUIDv7-shaped id whose last 62 bits are a counter: never repeats within a run."""
        self._counter += 1
        c = self._counter
        return (
            f"{(ms >> 16) & 0xFFFFFFFF:08x}-{ms & 0xFFFF:04x}-7{self._run_tag:03x}-"
            f"{0x8000 | ((c >> 48) & 0x3FFF):04x}-{c & 0xFFFFFFFFFFFF:012x}"
        )

    def event(self, ms: int) -> dict[str, Any]:
        rng = self._rng
        user = self._users[rng.randrange(USERS)]
        browser, version, os_name, os_version, device, _, width, height = user.profile
        path = rng.choice(_PATHS).replace("{n}", str(rng.randrange(1, 400)))
        url = SITE + path + rng.choice(_QUERIES)
        name = rng.choices(self._names, self._weights)[0]
        if name == "custom":
            name = rng.choice(_CUSTOM)
        referring_domain = "$direct" if user.referrer == "$direct" else user.referrer.split("/")[2]
        props: dict[str, Any] = {
            "$os": os_name,
            "$os_version": os_version,
            "$browser": browser,
            "$device_type": device,
            "$browser_version": float(version),
            "$current_url": url,
            "$host": "app.example.com",
            "$pathname": path,
            "$browser_language": user.language,
            "$screen_height": height,
            "$screen_width": width,
            "$viewport_height": height - 120,
            "$viewport_width": width,
            "$lib": "web",
            "$lib_version": LIB_VERSION,
            "$insert_id": f"{rng.getrandbits(64):016x}",
            "$time": ms / 1000,
            "distinct_id": user.distinct_id,
            "$device_id": user.device_id,
            "$referrer": user.referrer,
            "$referring_domain": referring_domain,
            "$session_id": user.session_id,
            "$window_id": user.window_id,
            "$is_identified": user.identified,
            "$process_person_profile": True,
            "$timezone": user.timezone,
            "token": self._token,
        }
        if name in ("$autocapture", "$rageclick"):
            props["$event_type"] = "click"
            props["$ce_version"] = 1
            props["$elements_chain"] = rng.choice(_ELEMENTS) + ";" + _ELEMENT_PARENTS
        elif name == "$pageview":
            props["title"] = "Example App"
            if rng.random() < 0.1:
                props["$set_once"] = {"$initial_current_url": url, "$initial_referrer": "$direct"}
        elif name == "$pageleave":
            props["$prev_pageview_duration"] = round(rng.uniform(1, 600), 1)
            props["$prev_pageview_max_scroll_percentage"] = round(rng.random(), 2)
        elif name == "$web_vitals":
            props["$web_vitals_LCP_value"] = round(rng.uniform(400, 4000), 1)
            props["$web_vitals_CLS_value"] = round(rng.uniform(0, 0.3), 3)
            props["$web_vitals_INP_value"] = round(rng.uniform(20, 500), 1)
        elif name == "$identify":
            # The visitor logs in: the anonymous device id joins the identified person.
            email = f"user_{rng.randrange(USERS):05d}@example.com"
            props["distinct_id"] = email
            props["$anon_distinct_id"] = user.device_id
            props["$set"] = {"email": email, "plan": rng.choice(("free", "pro"))}
        else:
            props["plan"] = rng.choice(("free", "pro", "enterprise"))
            props["project_id"] = rng.randrange(1, 400)
            props["source"] = rng.choice(("toolbar", "menu", "shortcut"))
            props["duration_ms"] = rng.randrange(5, 5000)
        ts = datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
        return {
            "uuid": self._uuid(ms),
            "event": name,
            "properties": props,
            "timestamp": ts.replace("+00:00", "Z"),
        }

    def batch_body(self) -> bytes:
        """One `/batch/` body of 50 events as posted by an SDK (uncompressed JSON)."""
        now_ms = self._base_ms
        events = [
            self.event(now_ms - self._rng.randrange(0, 30_000)) for _ in range(EVENTS_PER_BATCH)
        ]
        sent_at = datetime.fromtimestamp(now_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
        return orjson.dumps({"api_key": self._token, "batch": events, "sent_at": sent_at})

    def single_body(self) -> bytes:
        """One `/i/v0/e/` body: a single event with the token beside it (uncompressed JSON)."""
        event = self.event(self._base_ms - self._rng.randrange(0, 30_000))
        return orjson.dumps({"api_key": self._token, **event})


def _rand_uuid(rng: random.Random, version: int) -> str:
    value = rng.getrandbits(128)
    value = (value & ~(0xF << 76)) | (version << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def http_request(port: int, path: str, body: bytes, *, gzipped: bool) -> bytes:
    """A complete HTTP/1.1 keep-alive POST as bytes."""
    headers = [
        f"POST {path} HTTP/1.1",
        f"Host: {HOST}:{port}",
        f"User-Agent: {_USER_AGENT}",
        "Accept: */*",
        "Content-Type: application/json",
    ]
    if gzipped:
        headers.append("Content-Encoding: gzip")
    else:
        headers.append(f"Origin: {SITE}")
    headers.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body


@dataclasses.dataclass(slots=True)
class Pool:
    """Pre-built requests, handed out once each or cyclically."""

    requests: list[bytes]
    events_per_request: int
    cycle: bool
    raw_bytes: int
    wire_bytes: int
    next_index: int = 0

    def take(self) -> bytes | None:
        i = self.next_index
        if i >= len(self.requests):
            if not self.cycle:
                return None
            i = 0
        self.next_index = i + 1
        return self.requests[i]

    @property
    def exhausted(self) -> bool:
        return not self.cycle and self.next_index >= len(self.requests)


def build_pool(factory: EventFactory, workload: str, *, port: int, count: int, cycle: bool) -> Pool:
    """`count` complete requests; all events come from `factory`, so their uuids never repeat."""
    built = time.perf_counter()
    requests: list[bytes] = []
    raw_bytes = 0
    wire_bytes = 0
    for _ in range(count):
        if workload == "batch":
            raw = factory.batch_body()
            body = gzip.compress(raw, compresslevel=6, mtime=0)
            request = http_request(port, "/batch/", body, gzipped=True)
        else:
            raw = body = factory.single_body()
            request = http_request(port, "/i/v0/e/", body, gzipped=False)
        raw_bytes += len(raw)
        wire_bytes += len(body)
        requests.append(request)
    per_request = EVENTS_PER_BATCH if workload == "batch" else 1
    pool = Pool(requests, per_request, cycle, raw_bytes, wire_bytes)
    events = count * per_request
    print(
        f"    built {count:,} requests ({events:,} events, {raw_bytes / events:.0f} B JSON/event, "
        f"{wire_bytes / count / 1024:.1f} KiB on the wire/request) "
        f"in {time.perf_counter() - built:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return pool


# -- the client ------------------------------------------------------------------------------


class _Client(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False
        self._header_end = -1
        self._status = 0
        self._length = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but implement it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        buf = self.buf
        if self._header_end < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            try:
                self._status = int(head[9:12])
                at = head.index(b"\r\ncontent-length:") + 17
                eol = head.find(b"\r\n", at)
                self._length = int(head[at : eol if eol >= 0 else len(head)])
            except ValueError:
                waiter.set_exception(ConnectionError(f"unparseable response head: {head[:200]!r}"))
                return
            self._header_end = end + 4
        total = self._header_end + self._length
        if len(buf) >= total:
            del buf[:total]
            self._header_end = -1
            waiter.set_result(self._status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))


@dataclasses.dataclass(slots=True)
class PhaseResult:
    requests: int = 0
    ok: int = 0
    statuses: Counter[int] = dataclasses.field(default_factory=Counter)
    connection_errors: int = 0
    unfinished: int = 0
    elapsed_s: float = 0.0
    cpu_s: float = 0.0
    latencies: list[float] = dataclasses.field(default_factory=list)
    pool_exhausted: bool = False

    def summary(self, events_per_request: int) -> dict[str, Any]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else 0.0

        elapsed = self.elapsed_s or 1e-9
        return {
            "requests": self.requests,
            "ok": self.ok,
            "non_200": {str(k): v for k, v in sorted(self.statuses.items()) if k != 200},
            "connection_errors": self.connection_errors,
            "unfinished": self.unfinished,
            "acked_events": self.ok * events_per_request,
            "elapsed_s": round(self.elapsed_s, 3),
            "req_per_s": round(self.ok / elapsed, 1),
            "events_per_s": round(self.ok * events_per_request / elapsed, 1),
            "latency_ms_p50": pct(0.50),
            "latency_ms_p99": pct(0.99),
            "generator_cpu_s": round(self.cpu_s, 3),
            "pool_exhausted": self.pool_exhausted,
        }


class Driver:
    """Keeps N connections open and pushes a `Pool` through them for a bounded time."""

    def __init__(self, port: int, connections: int, request_timeout_s: float) -> None:
        self._port = port
        self._n = connections
        self._timeout = request_timeout_s
        self._clients: list[_Client] = []

    async def _connect(self) -> _Client:
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(_Client, HOST, self._port)
        return client

    async def open(self) -> None:
        self._clients = list(await asyncio.gather(*(self._connect() for _ in range(self._n))))

    def close(self) -> None:
        for client in self._clients:
            if client.transport is not None:
                client.transport.close()

    async def run(self, pool: Pool, duration_s: float) -> PhaseResult:
        result = PhaseResult()
        loop = asyncio.get_running_loop()
        cpu0 = time.process_time()
        start = time.perf_counter()
        stop_at = start + duration_s
        last_done = [start]

        async def worker(slot: int) -> None:
            client = self._clients[slot]
            while time.perf_counter() < stop_at:
                request = pool.take()
                if request is None:
                    result.pool_exhausted = True
                    return
                if client.closed or client.transport is None:
                    try:
                        client = self._clients[slot] = await self._connect()
                    except OSError:
                        result.connection_errors += 1
                        await asyncio.sleep(0.05)
                        continue
                transport = client.transport
                assert transport is not None
                waiter: asyncio.Future[int] = loop.create_future()
                client.waiter = waiter
                sent = time.perf_counter()
                transport.write(request)
                result.requests += 1
                try:
                    status = await waiter
                except ConnectionError:
                    result.connection_errors += 1
                    transport.close()
                    client.closed = True
                    continue
                done = time.perf_counter()
                result.latencies.append(done - sent)
                result.statuses[status] += 1
                if status == 200:
                    result.ok += 1
                last_done[0] = max(last_done[0], done)

        tasks = [asyncio.ensure_future(worker(i)) for i in range(self._n)]
        # Hard bound: whatever is still in flight this long after the end is given up on.
        _, pending = await asyncio.wait(tasks, timeout=duration_s + self._timeout)
        for task in pending:
            task.cancel()
            result.unfinished += 1
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            last_done[0] = time.perf_counter()
        result.elapsed_s = last_done[0] - start
        result.cpu_s = time.process_time() - cpu0
        return result


def _install_fast_loop() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def _mark(name: str) -> None:
    """Tell the orchestrator (reading stdout) that the timed phase starts or ends."""
    sys.stdout.write(orjson.dumps({"mark": name}).decode() + "\n")
    sys.stdout.flush()


def _timed_pool_size(args: argparse.Namespace, warm: PhaseResult) -> int:
    """Requests for the timed phase of a unique run: the warm-up rate for the whole duration,
    with headroom; the phase ends early (and says so) if the server outruns it."""
    if warm.ok == 0 or warm.elapsed_s <= 0:
        return int(args.max_requests)
    wanted = math.ceil(warm.ok / warm.elapsed_s * args.duration * args.headroom)
    return int(min(args.max_requests, max(args.connections * 4, wanted)))


async def _drive(args: argparse.Namespace) -> dict[str, Any]:
    factory = EventFactory(args.token, args.seed, args.run_tag)
    first = build_pool(
        factory, args.workload, port=args.port, count=args.requests, cycle=args.cycle
    )
    driver = Driver(args.port, args.connections, args.request_timeout)
    await driver.open()
    try:
        warm = await driver.run(first, args.warmup) if args.warmup > 0 else PhaseResult()
        timed_pool = first
        if not args.cycle:
            # Every event must be new to the server: build fresh requests for the timed phase.
            # Connections are closed meanwhile so that none times out idle on the server.
            driver.close()
            count = _timed_pool_size(args, warm)
            timed_pool = build_pool(
                factory, args.workload, port=args.port, count=count, cycle=False
            )
            await driver.open()
        _mark("timed_start")
        timed = await driver.run(timed_pool, args.duration)
        _mark("timed_end")
    finally:
        driver.close()
    return {
        "workload": args.workload,
        "events_per_request": first.events_per_request,
        "timed_pool_requests": len(timed_pool.requests),
        "json_bytes_per_event": round(
            timed_pool.raw_bytes / len(timed_pool.requests) / timed_pool.events_per_request, 1
        ),
        "wire_bytes_per_request": round(timed_pool.wire_bytes / len(timed_pool.requests), 1),
        "warmup": warm.summary(first.events_per_request),
        "timed": timed.summary(first.events_per_request),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--workload", choices=("batch", "single"), required=True)
    parser.add_argument(
        "--requests", type=int, required=True, help="Requests to pre-build (warm-up pool)."
    )
    parser.add_argument(
        "--cycle", action="store_true", help="Reuse the requests for warm-up and timed phase."
    )
    parser.add_argument(
        "--max-requests", type=int, default=20_000, help="Cap on the timed pool (unique runs)."
    )
    parser.add_argument("--headroom", type=float, default=1.3)
    parser.add_argument("--connections", type=int, default=24)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--run-tag", type=int, default=1)
    args = parser.parse_args(argv)

    loop = _install_fast_loop()()
    try:
        out = loop.run_until_complete(_drive(args))
    finally:
        loop.close()
    sys.stdout.write(orjson.dumps(out).decode() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
