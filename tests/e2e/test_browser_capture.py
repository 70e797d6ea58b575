"""A page on another origin sends events from real Chromium: CORS, gzip and sendBeacon work."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page

from tests.conftest import ServerProcess, poll_json

PAGE = """<!doctype html><html><body><h1>Shop</h1><script>
const api = %(api)s, token = %(token)s;
async function send(kind) {
  const ev = {event: "browser_" + kind, distinct_id: "visitor-1", uuid: crypto.randomUUID(),
              properties: {$current_url: location.href + "?utm_source=newsletter"}};
  if (kind === "json") {
    const r = await fetch(api + "/e/", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({api_key: token, batch: [ev]})});
    return [r.status, await r.json()];
  }
  if (kind === "gzip") {
    const body = new Blob([JSON.stringify({api_key: token, batch: [ev]})]).stream()
      .pipeThrough(new CompressionStream("gzip"));
    const bytes = await new Response(body).arrayBuffer();
    const r = await fetch(api + "/i/v0/e/", {
      method: "POST", headers: {"Content-Type": "text/plain"}, body: bytes});
    return [r.status, await r.json()];
  }
  const data = btoa(JSON.stringify({api_key: token, batch: [ev]}));
  const form = new Blob(["data=" + encodeURIComponent(data)],
                        {type: "application/x-www-form-urlencoded"});
  return [navigator.sendBeacon(api + "/e/?compression=base64", form), null];
}
</script></body></html>"""


def test_cross_origin_page_sends_events(
    server: ServerProcess, static_site: tuple[str, Path], page: Page
) -> None:
    project, auth = server.project_with_admin("Web")
    origin, root = static_site
    (root / "index.html").write_text(
        PAGE % {"api": json.dumps(server.url), "token": json.dumps(project["api_token"])}
    )
    page.goto(origin + "/index.html")
    # A JSON body makes the browser send a CORS preflight; the answer must let the page read it.
    assert page.evaluate("send('json')") == [200, {"status": 1}]
    assert page.evaluate("send('gzip')") == [200, {"status": 1}]
    assert page.evaluate("send('beacon')")[0] is True

    url = f"{server.url}/api/projects/{project['id']}/events"
    events = poll_json(url, auth, lambda b: len(b["results"]) >= 3)["results"]
    assert sorted(e["event"] for e in events) == ["browser_beacon", "browser_gzip", "browser_json"]
    for e in events:
        # Enriched on the server from the real browser's user agent and URL.
        assert e["browser"] and e["os"] == "Linux" and e["device_type"] == "Desktop"
        assert e["properties"]["utm_source"] == "newsletter"
        assert e["pathname"] == "/index.html"
