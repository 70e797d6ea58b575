"""Unmodified posthog-js in Chromium against a real server: events, a recording that replays,
and a typed password that appears in no stored byte."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import zstandard
from playwright.sync_api import Page

from tests.conftest import REPO, ServerProcess, poll_json
from tests.e2e.conftest import ARTIFACTS

PASSWORD = "hunter2-Secret-PASS"
REPLAY_DIST = REPO / "sdk" / "node_modules" / "@rrweb" / "replay" / "dist"

SHOP = """<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head><body>
<h1>Welcome to the shop</h1>
<form id="login" onsubmit="return false">
  <label>Email <input id="email" name="email"></label>
  <label>Password <input id="password" name="password" type="password"></label>
  <button id="signin" type="button">Sign in</button>
</form>
<button id="pay" type="button">Pay now</button>
<p id="status">Not signed in</p>
<script src="%(api)s/static/array.js"></script>
<script>
posthog.init(%(token)s, {api_host: "%(api)s", opt_out_useragent_filter: true,
                        person_profiles: "always", request_batching: true});
document.getElementById("signin").onclick = function () {
  posthog.identify("user-42", {email: document.getElementById("email").value});
  document.getElementById("status").textContent = "Signed in";
};
document.getElementById("pay").onclick = function () {
  setTimeout(function () { null.checkout(); }, 0);
};
</script></body></html>"""

PLAYER = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="style.css"></head><body><div id="player"></div>
<script src="replay.js"></script></body></html>"""


def _every_stored_byte(data_dir: Path) -> bytes:
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


def test_posthog_js_events_recording_and_replay(
    server: ServerProcess, static_site: tuple[str, Path], page: Page
) -> None:
    project, auth = server.project_with_admin("Shop")
    origin, root = static_site
    (root / "shop.html").write_text(
        SHOP % {"api": json.dumps(server.url)[1:-1], "token": json.dumps(project["api_token"])}
    )
    page.goto(origin + "/shop.html")
    page.wait_for_function(
        "window.posthog && posthog.sessionRecordingStarted && posthog.sessionRecordingStarted()",
        timeout=15000,
    )
    page.fill("#email", "buyer@shop.test")
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.click("#pay")
    page.wait_for_timeout(1500)
    page.evaluate("posthog.capture('checkout_viewed')")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "posthog-js-shop.png"))

    base = f"{server.url}/api/projects/{project['id']}"
    want = {"$pageview", "$autocapture", "$identify", "$exception", "checkout_viewed"}
    events = poll_json(
        f"{base}/events?limit=1000", auth, lambda b: want <= {e["event"] for e in b["results"]}
    )["results"]
    assert want <= {e["event"] for e in events}
    exception = next(e for e in events if e["event"] == "$exception")
    frames = exception["properties"]["$exception_list"][0]["stacktrace"]["frames"]
    assert frames and exception["properties"]["$exception_list"][0]["type"] == "TypeError"
    clicks = [e for e in events if e["event"] == "$autocapture"]
    assert any("signin" in e["properties"].get("$elements_chain", "") for e in clicks)
    person = httpx.get(f"{base}/persons/user-42", headers=auth).json()
    anonymous = {e["distinct_id"] for e in events} - {"user-42"}
    assert anonymous and anonymous <= set(person["distinct_ids"])

    page.close()  # leaving the page flushes the last recording data
    sessions = poll_json(f"{base}/sessions", auth, lambda b: b["results"])["results"]
    assert len(sessions) == 1
    session_id = sessions[0]["session_id"]
    assert session_id == exception["session_id"]
    snapshots = poll_json(
        f"{base}/sessions/{session_id}/snapshots",
        auth,
        lambda b: any(e["type"] == 2 for e in b.get("events", [])),
    )["events"]
    assert [e["type"] for e in snapshots][:2] == [4, 2]
    assert "Welcome to the shop" in json.dumps(snapshots)

    server.stop()  # flush everything to disk before reading every byte
    assert PASSWORD.encode() not in _every_stored_byte(server.data_dir)
    assert server.log_path is not None
    assert PASSWORD not in server.log_path.read_text()
    server.start()

    # The stored recording plays to the end in rrweb's Replayer.
    shutil.copy(REPLAY_DIST / "replay.umd.min.cjs", root / "replay.js")
    shutil.copy(REPLAY_DIST / "style.css", root / "style.css")
    (root / "player.html").write_text(PLAYER)
    player = page.context.new_page()
    errors: list[str] = []
    player.on("pageerror", lambda exc: errors.append(str(exc)))
    player.goto(origin + "/player.html")
    text = player.evaluate(
        """(events) => new Promise((resolve) => {
            const root = document.getElementById("player");
            const replayer = new rrwebReplay.Replayer(events, {root: root, speed: 8});
            replayer.on("finish", () => resolve(replayer.iframe.contentDocument.body.innerText));
            replayer.play();
        })""",
        [e for e in snapshots if e["windowId"] == snapshots[0]["windowId"]],
    )
    player.screenshot(path=str(ARTIFACTS / "posthog-js-replay.png"))
    assert "Welcome to the shop" in text
    assert not errors
    sandbox = player.eval_on_selector("#player iframe", "f => f.getAttribute('sandbox')")
    assert "allow-scripts" not in (sandbox or "")
