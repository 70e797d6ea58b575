"""Which client address a real `userlens serve` enriches with: the connection's own, unless
`USERLENS_TRUST_PROXY` says a reverse proxy's `X-Forwarded-For` may be believed."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess, eventually, free_port
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


@pytest.mark.parametrize("trusted", [False, True])
def test_forwarded_for_counts_only_when_the_proxy_is_trusted(tmp_path: Path, trusted: bool) -> None:
    geoip = tmp_path / "city.mmdb"
    write_geoip_db(geoip)
    server = ServerProcess(
        data_dir=tmp_path / "data",
        port=free_port(),
        settings={
            "USERLENS_GEOIP_DB": str(geoip),
            "USERLENS_TRUST_PROXY": json.dumps(trusted),
        },
    )
    server.data_dir.mkdir()
    server.start()
    try:
        # The request comes from 127.0.0.1, the address a local reverse proxy would have.
        headers = {"X-Forwarded-For": address_in(SWEDEN)}
        country = _country_of_one_event(server, headers)
    finally:
        server.stop()
    assert country == (PLACES[SWEDEN][0] if trusted else None)
