"""Which client address a real `userlens serve` enriches with: the connection's own, unless
`USERLENS_TRUST_PROXY` says a reverse proxy's `X-Forwarded-For` may be believed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess, eventually, running_server
from tests.unit.capture.test_enrich import PLACES, address_in, write_geoip_db

SWEDEN = "89.160.20.112/28"


def _country_of_one_event(server: ServerProcess, headers: dict[str, str]) -> str | None:
    project, auth = server.project_with_admin("Shop")
    body = {"api_key": project["api_token"], "event": "signup", "distinct_id": "u1"}
    resp = httpx.post(f"{server.url}/i/v0/e/", json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    found: list[dict[str, object]] = []

    def stored() -> bool:
        url = f"{server.url}/api/projects/{project['id']}/events"
        found[:] = httpx.get(url, headers=auth).json()["results"]
        return bool(found)

    eventually(stored)
    country = found[0]["country"]
    assert country is None or isinstance(country, str)
    return country


@pytest.fixture(params=[False, True], ids=["untrusted", "trusted"])
def geo_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server with a GeoIP database, trusting `X-Forwarded-For` or not (`param`)."""
    geoip = tmp_path / "city.mmdb"
    write_geoip_db(geoip)
    settings = {"USERLENS_GEOIP_DB": str(geoip), "USERLENS_TRUST_PROXY": json.dumps(request.param)}
    yield from running_server(tmp_path / "data", settings)


def test_forwarded_for_counts_only_when_the_proxy_is_trusted(geo_server: ServerProcess) -> None:
    trusted = geo_server.settings["USERLENS_TRUST_PROXY"] == "true"
    # The request comes from 127.0.0.1, the address a local reverse proxy would have.
    country = _country_of_one_event(geo_server, {"X-Forwarded-For": address_in(SWEDEN)})
    assert country == (PLACES[SWEDEN][0] if trusted else None)
