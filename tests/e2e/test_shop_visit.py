"""A scripted visit to the Lensware Shop fixture (a single-page app) in Chromium, once with the
Userlens snippet and once with unmodified posthog-js, against a real server.

The visitor signs in (typing a password), browses, adds to the cart, hits the broken "Pay now"
button, rage-clicks the dead "Apply coupon" button, navigates back and leaves. Then we check
what was stored: pageviews per route, autocapture chains, the identify merge, the exception
with frames, the frustration signals, and a recording with console and network entries that
replays in rrweb's Replayer — and that the password is in no stored byte.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import zstandard
from playwright.sync_api import Browser, Page

from tests.conftest import REPO, ServerProcess, poll_json
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.shop_server import ShopServer

PASSWORD = "hunter2-Secret-PASS"
EMAIL = "buyer@lensware.test"
REPLAY_DIST = REPO / "sdk" / "node_modules" / "@rrweb" / "replay" / "dist"
PLAYER = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="style.css"></head><body><div id="player"></div>
<script src="replay.js"></script></body></html>"""


@dataclass(frozen=True)
class Sdk:
    name: str
    snippet: str  # %(api)s and %(token)s are filled in
    recording_started: str  # a JS expression
    lib: str


USERLENS = Sdk(
    "userlens",
    """<script src="%(api)s/static/userlens.js"></script>
<script>
userlens.init(%(token)s, {api_host: "%(api)s", flush_interval_ms: 500});
window.shopIdentify = function (email) { userlens.identify(email, {email: email}); };
</script>""",
    "window.userlens && userlens.session_recording_started()",
    "userlens-web",
)
POSTHOG = Sdk(
    "posthog-js",
    """<script src="%(api)s/static/array.js"></script>
<script>
posthog.init(%(token)s, {api_host: "%(api)s", opt_out_useragent_filter: true,
                        person_profiles: "always", capture_pageview: "history_change"});
window.shopIdentify = function (email) { posthog.identify(email, {email: email}); };
</script>""",
    "window.posthog && posthog.sessionRecordingStarted && posthog.sessionRecordingStarted()",
    "web",
)


def every_stored_byte(data_dir: Path) -> bytes:
    """All bytes under the data dir, with compressed recording chunks inflated."""
    reader = zstandard.ZstdDecompressor()
    out = []
    for path in data_dir.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            out.append(raw)
            if "blobs" in path.parts:
                out.append(reader.decompress(raw))
    return b"".join(out)


def scripted_visit(page: Page, shop: str, sdk: Sdk, shots: Callable[[str], None]) -> None:
    page.goto(shop + "/login?utm_source=newsletter&utm_campaign=winter")
    page.wait_for_function(sdk.recording_started, timeout=15000)
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    shots("login")
    page.click("#sign-in")
    page.wait_for_selector("text=In stock")
    page.click("button.add[data-sku=mug]")
    page.click("button.add[data-sku=tote]")
    page.click("#secret-promo")
    shots("products")
    page.click("#nav-cart")
    page.wait_for_selector("text=Your cart")
    page.click("#to-checkout")
    page.fill("#address", "1 Lens Lane")
    page.click("#pay")  # throws
    box = page.locator("#coupon").bounding_box()
    assert box is not None
    for _ in range(4):  # rage: four quick clicks on the same spot of a dead button
        page.mouse.click(box["x"] + 10, box["y"] + 5, delay=20)
        page.wait_for_timeout(60)
    page.wait_for_timeout(3000)  # longer than the dead-click wait
    shots("checkout")  # (after: a screenshot restyles the focused input, a DOM change)
    page.go_back()  # popstate: back to the cart
    page.wait_for_selector("text=Your cart")
    page.click("#nav-products")
    page.wait_for_selector("text=In stock")
    page.wait_for_timeout(2500)  # one more recording flush
    page.close()  # leaving: pageleave, and the rest goes out by sendBeacon


@pytest.fixture
def visit(
    server: ServerProcess, browser: Browser
) -> Callable[[Sdk], tuple[list[dict[str, Any]], str, dict[str, str], ShopServer]]:
    """Run the scripted visit with one SDK; return the stored events and the API base."""

    def run(sdk: Sdk) -> tuple[list[dict[str, Any]], str, dict[str, str], ShopServer]:
        project, auth = server.project_with_admin("Lensware")
        snippet = sdk.snippet % {
            "api": server.url,
            "token": json.dumps(project["api_token"]),
        }
        shop = ShopServer(snippet)
        shop.start()
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        ARTIFACTS.mkdir(exist_ok=True)

        def shots(name: str) -> None:
            page.screenshot(path=str(ARTIFACTS / f"shop-{sdk.name}-{name}.png"))

        try:
            scripted_visit(page, shop.base_url, sdk, shots)
        finally:
            context.close()
            shop.stop()
        base = f"{server.url}/api/projects/{project['id']}"
        events = poll_json(
            f"{base}/events?limit=1000",
            auth,
            lambda b: {"$pageleave", "$exception"} <= {e["event"] for e in b["results"]},
        )["results"]
        return sorted(events, key=lambda e: e["timestamp"]), base, auth, shop

    return run


def pageview_paths(events: list[dict[str, Any]]) -> list[str]:
    return [e["properties"]["$pathname"] for e in events if e["event"] == "$pageview"]


def replay_text(browser: Browser, tmp_path: Path, events: list[dict[str, Any]], name: str) -> str:
    """Play `events` to the end in rrweb's Replayer; the replayed page's text."""
    root = tmp_path / "player"
    root.mkdir()
    shutil.copy(REPLAY_DIST / "replay.umd.min.cjs", root / "replay.js")
    shutil.copy(REPLAY_DIST / "style.css", root / "style.css")
    (root / "player.html").write_text(PLAYER)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    player = context.new_page()
    errors: list[str] = []
    player.on("pageerror", lambda exc: errors.append(str(exc)))
    player.goto((root / "player.html").as_uri())
    text: str = player.evaluate(
        """(events) => new Promise((resolve) => {
            const root = document.getElementById("player");
            const replayer = new rrwebReplay.Replayer(events, {root: root, speed: 16});
            replayer.on("finish", () => resolve(replayer.iframe.contentDocument.body.innerText));
            replayer.play();
        })""",
        events,
    )
    player.screenshot(path=str(ARTIFACTS / f"shop-{name}-replay.png"))
    sandbox = player.eval_on_selector("#player iframe", "f => f.getAttribute('sandbox')")
    context.close()
    assert not errors
    assert "allow-scripts" not in (sandbox or "")
    return text


def session_snapshots(base: str, auth: dict[str, str]) -> tuple[dict[str, Any], list[Any]]:
    sessions = poll_json(f"{base}/sessions", auth, lambda b: b["results"])["results"]
    assert len(sessions) == 1
    session = sessions[0]
    snapshots = poll_json(
        f"{base}/sessions/{session['session_id']}/snapshots",
        auth,
        lambda b: any(e["type"] == 2 for e in b.get("events", [])),
    )["events"]
    return session, snapshots


def assert_password_nowhere(server: ServerProcess) -> None:
    server.stop()  # flush everything to disk before reading every byte
    assert PASSWORD.encode() not in every_stored_byte(server.data_dir)
    assert server.log_path is not None
    assert PASSWORD not in server.log_path.read_text()


def test_userlens_snippet_visit(
    visit: Callable[[Sdk], tuple[list[dict[str, Any]], str, dict[str, str], ShopServer]],
    server: ServerProcess,
    browser: Browser,
    tmp_path: Path,
) -> None:
    events, base, auth, _shop = visit(USERLENS)
    names = [e["event"] for e in events]

    # Pageviews per route, including the popstate back to the cart and the SPA navigations.
    assert pageview_paths(events) == [
        "/login",
        "/products",
        "/cart",
        "/checkout",
        "/cart",
        "/products",
    ]
    first = events[0]
    assert first["event"] == "$pageview"
    assert first["properties"]["utm_source"] == "newsletter"
    assert first["properties"]["$referrer"] == "$direct"
    products = next(e for e in events if e["properties"].get("$pathname") == "/products")
    assert "utm_source" not in products["properties"]
    assert {e["properties"]["$lib"] for e in events} == {USERLENS.lib}
    assert len({e["session_id"] for e in events}) == 1
    assert len({e["properties"]["$window_id"] for e in events}) == 1
    leave = next(e for e in events if e["event"] == "$pageleave")
    assert leave["properties"]["$prev_pageview_pathname"] == "/products"

    # Autocapture with element chains; nothing from inside a no-capture element.
    clicks = [e for e in events if e["event"] == "$autocapture"]
    chains = [e["properties"]["$elements_chain"] for e in clicks]
    sign_in = next(c for c in chains if 'attr__id="sign-in"' in c)
    assert sign_in.startswith("button") and 'text="Sign in"' in sign_in
    assert any('attr__data-sku="tote"' in c and 'text="Add to cart"' in c for c in chains)
    assert not any("secret-promo" in c for c in chains)
    submits = [e for e in clicks if e["properties"]["$event_type"] == "submit"]
    assert submits and submits[0]["properties"]["$elements_chain"].startswith("form")
    changes = [e for e in clicks if e["properties"]["$event_type"] == "change"]
    assert any('attr__id="address"' in e["properties"]["$elements_chain"] for e in changes)

    # The identify merge: the anonymous visitor and the signed-in email are one person.
    identify = next(e for e in events if e["event"] == "$identify")
    anonymous = identify["properties"]["$anon_distinct_id"]
    person = httpx.get(f"{base}/persons/{EMAIL}", headers=auth).json()
    assert {anonymous, EMAIL} <= set(person["distinct_ids"])
    assert person["properties"]["email"] == EMAIL
    assert events[0]["distinct_id"] == anonymous

    # The broken button's error, with frames pointing into the shop's code.
    exception = next(e for e in events if e["event"] == "$exception")
    (error,) = exception["properties"]["$exception_list"]
    assert error["type"] == "Error" and error["value"] == "Payment provider unavailable"
    frames = error["stacktrace"]["frames"]
    assert frames[-1]["filename"].endswith("/app.js") and frames[-1]["lineno"] > 0
    assert frames[-1]["in_app"] is True

    # Frustration: one rage click and dead clicks on the coupon button, none on working ones.
    rage = [e for e in events if e["event"] == "$rageclick"]
    assert len(rage) == 1 and 'attr__id="coupon"' in rage[0]["properties"]["$elements_chain"]
    dead = [e["properties"]["$elements_chain"] for e in events if e["event"] == "$dead_click"]
    assert dead and all('attr__id="coupon"' in c for c in dead)
    assert names.count("$pageleave") == 1

    # The recording: a full snapshot, console lines and network calls without query secrets.
    session, snapshots = session_snapshots(base, auth)
    assert session["session_id"] == exception["session_id"]
    assert session["console_errors"] >= 1 and session["clicks"] >= 6
    assert [e["type"] for e in snapshots][:2] == [4, 2]
    plugins = [e["data"] for e in snapshots if e["type"] == 6]
    console = [p["payload"] for p in plugins if p["plugin"] == "rrweb/console@1"]
    assert {"level": "log", "payload": ["products loaded", '{"count":4}']} in [
        {"level": c["level"], "payload": c["payload"]} for c in console
    ]
    assert any(c["level"] == "error" and c["payload"] == ["payment failed"] for c in console)
    network = [
        r for p in plugins if p["plugin"] == "rrweb/network@1" for r in p["payload"]["requests"]
    ]
    stock = [r for r in network if "/api/stock" in r["name"]]
    assert len(stock) == 2 and all(r["status"] == 200 and r["method"] == "GET" for r in stock)
    assert "token=[redacted]" in stock[0]["name"] and "sku=all" in stock[0]["name"]
    assert "s3cr3t-query" not in json.dumps(snapshots)
    assert not any(server.url in r["name"] for r in network)  # our own traffic is not shown

    window = [e for e in snapshots if e["windowId"] == snapshots[0]["windowId"]]
    text = replay_text(browser, tmp_path, window, USERLENS.name)
    assert "Lensware Shop" in text and "Products" in text
    assert_password_nowhere(server)


def test_posthog_js_visit(
    visit: Callable[[Sdk], tuple[list[dict[str, Any]], str, dict[str, str], ShopServer]],
    server: ServerProcess,
    browser: Browser,
    tmp_path: Path,
) -> None:
    events, base, auth, _shop = visit(POSTHOG)
    assert {"/login", "/products", "/cart", "/checkout"} <= set(pageview_paths(events))
    chains = [
        e["properties"].get("$elements_chain", "") for e in events if e["event"] == "$autocapture"
    ]
    assert any("sign-in" in c for c in chains)
    person = httpx.get(f"{base}/persons/{EMAIL}", headers=auth).json()
    assert len(person["distinct_ids"]) >= 2
    exception = next(e for e in events if e["event"] == "$exception")
    frames = exception["properties"]["$exception_list"][0]["stacktrace"]["frames"]
    assert frames

    _session, snapshots = session_snapshots(base, auth)
    window = [e for e in snapshots if e["windowId"] == snapshots[0]["windowId"]]
    assert "Lensware Shop" in replay_text(browser, tmp_path, window, POSTHOG.name)
    assert_password_nowhere(server)
