"""The Userlens snippet's API and behaviour in Chromium, against a real server: identity,
super properties, opt-out, privacy classes, Do-Not-Track, cookieless mode, session rotation,
retries with Retry-After, the bounded offline queue, auto-init and the ES module build."""

from __future__ import annotations

import gzip
import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.conftest import ServerProcess, eventually, poll_json, running_server
from tests.e2e.conftest import ARTIFACTS


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server for this module; each test makes its own project."""
    yield from running_server(tmp_path_factory.mktemp("snippet") / "data")


@dataclass
class Site:
    """A project and a page on another origin that loads the snippet from the server."""

    server: ServerProcess
    project: dict[str, Any]
    auth: dict[str, str]
    origin: str
    root: Path

    @property
    def base(self) -> str:
        return f"{self.server.url}/api/projects/{self.project['id']}"

    def page_html(self, body: str, options: str = "", *, head: str = "") -> str:
        return f"""<!doctype html><html><head><meta charset="utf-8"><title>Snippet</title>
{head}<script src="{self.server.url}/static/userlens.js"></script>
<script>userlens.init({json.dumps(self.project["api_token"])},
  {{api_host: "{self.server.url}", flush_interval_ms: 300{options}}});</script>
</head><body>{body}</body></html>"""

    def write(self, name: str, html: str) -> str:
        (self.root / name).write_text(html)
        return f"{self.origin}/{name}"

    def events(self, ready: Any = lambda events: bool(events)) -> list[dict[str, Any]]:
        body = poll_json(f"{self.base}/events?limit=1000", self.auth, lambda b: ready(b["results"]))
        return sorted(body["results"], key=lambda e: e["timestamp"])

    def settings(self, patch: dict[str, Any]) -> None:
        resp = httpx.patch(f"{self.base}/settings", json=patch, headers=self.auth)
        assert resp.status_code == 200, resp.text


@pytest.fixture
def site(live: ServerProcess, static_site: tuple[str, Path]) -> Site:
    project, auth = live.project_with_admin(f"P{time.monotonic_ns()}")
    origin, root = static_site
    return Site(live, project, auth, origin, root)


def names(events: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in events]


def test_identity_super_properties_and_reset(site: Site, page: Page) -> None:
    page.goto(site.write("app.html", site.page_html("<h1>App</h1>")))
    page.evaluate(
        """async () => {
        userlens.register({plan: "pro"});
        userlens.register_once({plan: "free", first_seen: "today"});
        userlens.capture("report_opened", {report: "weekly"});
        userlens.identify("user-7", {name: "Ada"}, {signup: "2026-11-25"});
        userlens.identify("user-7", {name: "Ada L."});
        userlens.alias("ada@example.test");
        userlens.unregister("first_seen");
        userlens.capture("after_unregister");
        window.before = {id: userlens.get_distinct_id(), session: userlens.get_session_id()};
        userlens.reset();
        userlens.capture("after_reset");
        await userlens.flush();
    }"""
    )
    events = site.events(lambda ev: "after_reset" in names(ev))
    by_name = {e["event"]: e for e in events}
    report = by_name["report_opened"]
    assert report["properties"]["plan"] == "pro" and report["properties"]["first_seen"] == "today"
    assert report["properties"]["report"] == "weekly"
    assert report["properties"]["$lib"] == "userlens-web"
    anonymous = report["distinct_id"]
    identify = by_name["$identify"]
    assert identify["distinct_id"] == "user-7"
    assert identify["properties"]["$anon_distinct_id"] == anonymous
    assert by_name["$set"]["distinct_id"] == "user-7"
    assert by_name["$create_alias"]["properties"]["alias"] == "ada@example.test"
    assert "first_seen" not in by_name["after_unregister"]["properties"]
    after = by_name["after_reset"]
    assert after["distinct_id"] not in {anonymous, "user-7"}
    assert "plan" not in after["properties"]
    before = page.evaluate("window.before")
    assert after["session_id"] != before["session"]
    person = httpx.get(f"{site.base}/persons/user-7", headers=site.auth).json()
    assert {anonymous, "user-7", "ada@example.test"} <= set(person["distinct_ids"])
    assert person["properties"]["name"] == "Ada L."
    assert person["properties"]["signup"] == "2026-11-25"
    url = page.evaluate("userlens.get_session_url()")
    assert url.startswith(f"{site.server.url}/replay/{page.evaluate('userlens.get_session_id()')}")
    assert "?t=" in url


def test_opting_out_stops_everything_and_survives_a_reload(site: Site, page: Page) -> None:
    url = site.write("app.html", site.page_html("<button id='b'>Go</button>"))
    page.goto(url)
    page.wait_for_function("userlens.session_recording_started()")
    page.evaluate("userlens.opt_out_capturing()")
    assert page.evaluate("userlens.capture('while_out')") is None
    assert page.evaluate("userlens.session_recording_started()") is False
    page.reload()
    page.click("#b")
    page.wait_for_timeout(800)
    assert page.evaluate("userlens.has_opted_out_capturing()") is True
    page.evaluate("userlens.opt_in_capturing(); userlens.capture('back_in'); userlens.flush()")
    events = site.events(lambda ev: "back_in" in names(ev))
    assert "while_out" not in names(events)
    assert names(events).count("$pageview") == 1  # the reloaded page view was not sent
    assert "$opt_in" in names(events)


def test_privacy_classes_masking_and_no_keystrokes(site: Site, page: Page) -> None:
    body = """
    <p class="ul-mask">Private note 4711</p><p class="ph-mask">Other private 4712</p>
    <div class="ul-block">Blocked panel 4713</div><div class="ph-no-capture">
      <button id="hidden">Hidden button</button></div>
    <button id="hidden2" class="ul-no-capture">Also hidden</button>
    <label>Search <input id="q"></label><label>Card <input id="card" type="tel"></label>
    <p>Public text 4714</p>"""
    page.goto(site.write("privacy.html", site.page_html(body)))
    page.wait_for_function("userlens.session_recording_started()")
    page.type("#q", "typed-secret-xyz", delay=15)
    page.type("#card", "4111111111111111", delay=15)
    page.click("#hidden")
    page.click("#hidden2")
    page.click("body", position={"x": 5, "y": 5})
    page.wait_for_timeout(2500)
    page.close()
    session = poll_json(f"{site.base}/sessions", site.auth, lambda b: b["results"])["results"][0]
    snapshots = poll_json(
        f"{site.base}/sessions/{session['session_id']}/snapshots",
        site.auth,
        lambda b: any(e["type"] == 3 and e["data"].get("source") == 5 for e in b["events"]),
    )["events"]
    recorded = json.dumps(snapshots)
    assert "Public text 4714" in recorded
    for secret in ("Private note 4711", "Other private 4712", "Blocked panel 4713"):
        assert secret not in recorded
    assert "typed-secret-xyz" not in recorded and "4111111111111111" not in recorded
    inputs = [e["data"] for e in snapshots if e["type"] == 3 and e["data"].get("source") == 5]
    assert inputs and all(set(i["text"]) <= {"*"} for i in inputs)
    # One input event per field (the last value), not one per keystroke.
    assert len(inputs) <= 4
    events = site.events(lambda ev: "$pageleave" in names(ev))
    stored = json.dumps(events)
    assert "Hidden button" not in stored and "Also hidden" not in stored
    assert "typed-secret-xyz" not in stored and "4111111111111111" not in stored


def test_do_not_track_is_respected_when_the_project_says_so(site: Site, page: Page) -> None:
    page.add_init_script("Object.defineProperty(navigator, 'doNotTrack', {get: () => '1'})")
    url = site.write("dnt.html", site.page_html("<p>Hi</p>"))
    page.goto(url)
    page.evaluate("userlens.capture('dnt_allowed'); userlens.flush()")
    site.events(lambda ev: "dnt_allowed" in names(ev))  # the project does not ask: captured
    site.settings({"respect_dnt": True})
    page.goto(url + "?again")
    page.wait_for_function("userlens.has_opted_out_capturing()")
    page.evaluate("userlens.capture('dnt_ignored'); userlens.flush()")
    page.wait_for_timeout(1000)
    assert "dnt_ignored" not in names(site.events())
    # A page that asks for it itself does not even wait for the server's word.
    own = site.write("dnt2.html", site.page_html("<p>Hi</p>", ", respect_dnt: true"))
    page.goto(own)
    assert page.evaluate("userlens.capture('never')") is None


def test_cookieless_mode_stores_nothing_on_the_device(site: Site, page: Page) -> None:
    url = site.write("memory.html", site.page_html("<p>Hi</p>", ", persistence: 'memory'"))
    page.goto(url)
    first = page.evaluate("userlens.get_distinct_id()")
    page.evaluate("userlens.capture('one'); userlens.flush()")
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('ul'))") == []
    assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('ul'))") == []
    assert page.context.cookies() == []
    page.reload()
    assert page.evaluate("userlens.get_distinct_id()") != first
    page.evaluate("userlens.capture('two'); userlens.flush()")
    events = site.events(lambda ev: {"one", "two"} <= set(names(ev)))
    assert len({e["distinct_id"] for e in events}) == 2


def test_sessions_rotate_after_idle_time_with_a_new_full_snapshot(site: Site, page: Page) -> None:
    url = site.write(
        "idle.html", site.page_html("<h1>Idle test</h1>", ", session_idle_timeout_ms: 2000")
    )
    page.goto(url)
    page.wait_for_function("userlens.session_recording_started()")
    first = page.evaluate("userlens.get_session_id()")
    page.wait_for_timeout(2600)
    page.evaluate("userlens.capture('after_idle')")
    second = page.evaluate("userlens.get_session_id()")
    assert second != first
    page.mouse.move(100, 100)
    page.wait_for_timeout(2500)
    page.close()
    events = site.events(lambda ev: "after_idle" in names(ev))
    assert next(e for e in events if e["event"] == "after_idle")["session_id"] == second
    sessions = poll_json(f"{site.base}/sessions", site.auth, lambda b: len(b["results"]) == 2)
    assert {s["session_id"] for s in sessions["results"]} == {first, second}
    snapshots = httpx.get(f"{site.base}/sessions/{second}/snapshots", headers=site.auth).json()
    assert 2 in [e["type"] for e in snapshots["events"]]  # the new session replays on its own


@dataclass
class FlakySink:
    """A capture endpoint that answers 503 (Retry-After: 1) until told otherwise."""

    status: int = 503
    posts: list[tuple[float, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def uuids(self, body: bytes) -> list[str]:
        data = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        return [e["uuid"] for e in json.loads(data)["batch"]]

    def delivered(self) -> list[str]:
        with self.lock:
            return [u for t, b in self.posts if t > 0 for u in self.uuids(b)]


@pytest.fixture
def sink() -> Iterator[tuple[str, FlakySink]]:
    state = FlakySink()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _cors(self) -> None:
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Expose-Headers", "Retry-After")

        def do_GET(self) -> None:  # the remote config: nothing to turn on
            self.send_response(200)
            self._cors()
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                status = state.status
                state.posts.append((time.monotonic() if status == 200 else -time.monotonic(), body))
            self.send_response(status)
            self._cors()
            if status == 503:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    httpd.shutdown()
    httpd.server_close()


def _sink_page(site: Site, sink_url: str) -> str:
    html = f"""<!doctype html><html><head><meta charset="utf-8">
<script src="{site.server.url}/static/userlens.js"></script>
<script>userlens.init("tok", {{api_host: "{sink_url}", flush_interval_ms: 200,
  capture_pageview: false, autocapture: false}});</script></head><body></body></html>"""
    return site.write("sink.html", html)


def test_failed_sends_are_retried_after_retry_after_with_the_same_uuids(
    site: Site, page: Page, sink: tuple[str, FlakySink]
) -> None:
    url, state = sink
    page.goto(_sink_page(site, url))
    sent = page.evaluate("[1, 2, 3].map(i => userlens.capture('e' + i).uuid)")
    eventually(lambda: bool(state.posts))
    with state.lock:
        state.status = 200
    eventually(lambda: bool(state.delivered()))
    with state.lock:
        first_try, first_body = state.posts[0]
        retry_at = next(t for t, _ in state.posts if t > 0)
    assert first_body[:2] == b"\x1f\x8b"  # gzipped by the browser
    assert state.uuids(first_body) == sent
    assert state.delivered() == sent  # the retry carries the same events, same uuids
    assert retry_at - -first_try >= 0.9  # it waited for Retry-After


def test_the_offline_queue_is_bounded_and_keeps_the_newest(
    site: Site, page: Page, sink: tuple[str, FlakySink]
) -> None:
    url, state = sink
    page.goto(_sink_page(site, url))
    sent = page.evaluate("Array.from({length: 1500}, (_, i) => userlens.capture('n' + i).uuid)")
    eventually(lambda: bool(state.posts))  # the first send was refused: "offline"
    with state.lock:
        state.status = 200
    eventually(lambda: len(state.delivered()) >= 1000, timeout=20)
    time.sleep(0.5)
    assert state.delivered() == sent[-1000:]


def test_one_tag_with_data_token_and_calls_queued_before_load(site: Site, page: Page) -> None:
    html = f"""<!doctype html><html><head><meta charset="utf-8">
<script>
window.userlens = [["register", {{source: "stub"}}], ["capture", "early", {{x: 1}}]];
</script>
<script src="{site.server.url}/static/userlens.js"
        data-token="{site.project["api_token"]}"></script></head><body>Hi</body></html>"""
    page.goto(site.write("tag.html", html))
    page.evaluate("userlens.flush()")
    events = site.events(lambda ev: {"$pageview", "early"} <= set(names(ev)))
    early = next(e for e in events if e["event"] == "early")
    assert early["properties"]["x"] == 1 and early["properties"]["source"] == "stub"


def test_es_module_build(site: Site, page: Page) -> None:
    html = f"""<!doctype html><html><head><meta charset="utf-8"></head><body>
<script type="module">
import {{ userlens }} from "{site.server.url}/static/userlens.esm.js";
userlens.init({json.dumps(site.project["api_token"])}, {{api_host: "{site.server.url}"}});
userlens.capture("from_module");
userlens.flush();
</script></body></html>"""
    page.goto(site.write("esm.html", html))
    events = site.events(lambda ev: "from_module" in names(ev))
    assert {e["properties"]["$lib"] for e in events} == {"userlens-web"}


def test_recording_follows_sampling_and_url_rules(site: Site, page: Page) -> None:
    site.settings({"recording": {"url_deny": ["/private"]}})
    page.goto(site.write("private.html", site.page_html("<p>Private</p>")))
    page.evaluate("userlens.capture('seen'); userlens.flush()")
    site.events(lambda ev: "seen" in names(ev))  # the remote config has been read
    page.wait_for_timeout(500)
    assert page.evaluate("userlens.session_recording_started()") is False
    page.goto(site.write("public.html", site.page_html("<p>Public</p>")))
    page.wait_for_function("userlens.session_recording_started()")
    site.settings({"recording": {"url_deny": [], "sample_rate": 0}})
    page.evaluate("userlens.reset()")
    page.goto(site.write("public2.html", site.page_html("<p>Public</p>")))
    page.evaluate("userlens.capture('unsampled'); userlens.flush()")
    site.events(lambda ev: "unsampled" in names(ev))
    page.wait_for_timeout(500)
    assert page.evaluate("userlens.session_recording_started()") is False
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "snippet-page.png"))


def test_recording_allow_list_and_minimum_duration(site: Site, page: Page) -> None:
    site.settings({"recording": {"url_allow": ["/app/"]}})
    page.goto(site.write("landing.html", site.page_html("<p>Landing</p>")))
    page.evaluate("userlens.capture('landing_seen'); userlens.flush()")
    site.events(lambda ev: "landing_seen" in names(ev))
    page.wait_for_timeout(500)
    assert page.evaluate("userlens.session_recording_started()") is False  # not on the list
    (site.root / "app").mkdir()
    page.goto(site.write("app/home.html", site.page_html("<p>In the app</p>")))
    page.wait_for_function("userlens.session_recording_started()")

    # A session shorter than the minimum duration sends no recording at all.
    site.settings({"recording": {"url_allow": [], "min_duration_ms": 60_000}})
    page.evaluate("userlens.reset()")
    page.goto(site.write("short.html", site.page_html("<button id='b'>Click</button>")))
    page.wait_for_function("userlens.session_recording_started()")
    session = page.evaluate("userlens.get_session_id()")
    page.click("#b")
    page.wait_for_timeout(2500)
    page.evaluate("userlens.capture('short_visit'); userlens.flush()")
    site.events(lambda ev: "short_visit" in names(ev))
    page.close()  # had the minimum been ignored, the rest would go out by sendBeacon now
    time.sleep(3)
    listed = httpx.get(f"{site.base}/sessions", headers=site.auth).json()["results"]
    assert session not in {s["session_id"] for s in listed}
