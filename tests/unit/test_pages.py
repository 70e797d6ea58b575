"""The web app's files: compressed on the way, kept by browsers as long as they can be."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.conftest import make_settings
from userlens.web.app import create_app
from userlens.web.pages import UI_DIST


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path / "data"))) as c:
        yield c


def test_the_entry_script_is_compressed_and_checked_again(client: TestClient) -> None:
    first = client.get("/assets/main.js", headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200
    assert first.headers["content-encoding"] == "gzip"
    assert first.headers["cache-control"] == "no-cache"
    assert first.content == (UI_DIST / "main.js").read_bytes()  # as built, once unpacked
    again = client.get("/assets/main.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = client.get("/assets/main.js", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content


def test_chunks_named_by_their_hash_are_kept_for_good(client: TestClient) -> None:
    chunks = sorted(UI_DIST.glob("chunk-*.js"))
    assert chunks, "the web app is built with split chunks"
    resp = client.get(f"/assets/{chunks[0].name}")
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_json_answers_are_compressed_for_browsers_that_accept_it(client: TestClient) -> None:
    packed = client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    plain = client.get("/openapi.json", headers={"Accept-Encoding": "identity"})
    assert packed.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert packed.json() == plain.json()


@pytest.mark.parametrize("name", ["../pyproject.toml", "main.py", "x" * 70 + ".js", "nope.js"])
def test_other_names_are_not_found(client: TestClient, name: str) -> None:
    resp = client.get(f"/assets/{name}")
    assert resp.status_code == 404
    assert resp.json()["error"]  # a JSON answer, never a file from elsewhere


@pytest.mark.parametrize("path", ["/", "/signin", "/projects/1/insights", "/replay/s-1"])
def test_every_page_keeps_to_its_own_scripts_and_cannot_be_framed(
    client: TestClient, path: str
) -> None:
    resp = client.get(path)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    policy = dict(
        part.strip().split(" ", 1) for part in resp.headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'"  # no inline or foreign scripts run in the app
    assert policy["frame-ancestors"] == "'none'"  # no clickjacking
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
    assert resp.headers["x-content-type-options"] == "nosniff"
    # Its icon is drawn inline, as the policy's images allow, so browsers ask nothing more.
    icon = re.search(r'<link rel="icon" href="([^"]+)">', resp.text)
    assert icon and icon.group(1).startswith("data:image/svg+xml,")
    assert "data:" in policy["img-src"].split()
    assert "<script>" not in resp.text and "onload=" not in resp.text
