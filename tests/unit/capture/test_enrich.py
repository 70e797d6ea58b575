"""Server-side enrichment: user agent, referrer, campaign parameters, path and GeoIP."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from tests.conftest import Env
from tests.unit.capture.support import build_env, close_env, new_id, only_event

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36"
)
SAFARI_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"

# user agent -> (browser, browser version, OS, OS version, device type)
DEVICES: dict[str, tuple[str, str, str, str, str]] = {
    CHROME_WINDOWS: ("Chrome", "120.0", "Windows", "10", "Desktop"),
    SAFARI_IPHONE: ("Mobile Safari", "17.1", "iOS", "17.1", "Mobile"),
    CHROME_ANDROID_PHONE: ("Chrome Mobile", "120.0", "Android", "14", "Mobile"),
    SAFARI_IPAD: ("Mobile Safari", "16.6", "iOS", "16.6", "Tablet"),
    CHROME_ANDROID_TABLET: ("Chrome", "119.0", "Android", "13", "Tablet"),
    FIREFOX_LINUX: ("Firefox", "121.0", "Ubuntu", "", "Desktop"),
}
DEVICE_IDS = [
    "chrome-windows",
    "safari-iphone",
    "chrome-android",
    "ipad",
    "android-tablet",
    "firefox",
]
DEVICE_COLUMNS = ("browser", "browser_version", "os", "os_version", "device_type")
DEVICE_PROPS = ("$browser", "$browser_version", "$os", "$os_version", "$device_type")


def capture(
    env: Env, props: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Send one event with these properties; return it as stored."""
    distinct_id = new_id()
    resp = env.client.post(
        "/e/",
        json={
            "api_key": env.project.api_token,
            "event": "$pageview",
            "distinct_id": distinct_id,
            "properties": props,
        },
        headers=headers or {},
    )
    assert resp.status_code == 200, resp.text
    return only_event(env, distinct_id)


def assert_device(got: dict[str, Any], expected: tuple[str, ...]) -> None:
    for column, prop, value in zip(DEVICE_COLUMNS, DEVICE_PROPS, expected, strict=True):
        assert got[column] == (value or None), column
        if value:
            assert got["properties"][prop] == value, prop
        else:
            assert prop not in got["properties"], prop


def assert_no_device(got: dict[str, Any]) -> None:
    for column, prop in zip(DEVICE_COLUMNS, DEVICE_PROPS, strict=True):
        assert got[column] is None, column
        assert prop not in got["properties"], prop


# -- user agent -------------------------------------------------------------------------------


@pytest.mark.parametrize("lib", ["web", "userlens-web"])
@pytest.mark.parametrize(("ua", "expected"), DEVICES.items(), ids=DEVICE_IDS)
def test_user_agent_header_gives_the_device(
    shared_env: Env, ua: str, expected: tuple[str, ...], lib: str
) -> None:
    """posthog-js (`web`) and our snippet (`userlens-web`) send no device: the header tells."""
    got = capture(shared_env, {"$lib": lib}, headers={"User-Agent": ua})
    assert_device(got, expected)


@pytest.mark.parametrize(("ua", "expected"), DEVICES.items(), ids=DEVICE_IDS)
def test_raw_user_agent_of_server_side_libs(
    shared_env: Env, ua: str, expected: tuple[str, ...]
) -> None:
    got = capture(
        shared_env,
        {"$lib": "posthog-python", "$raw_user_agent": ua},
        headers={"User-Agent": "posthog-python/7.91.1"},
    )
    assert_device(got, expected)
    assert got["properties"]["$raw_user_agent"] == ua


def test_posthog_js_values_win_over_the_user_agent(shared_env: Env) -> None:
    own = {
        "$browser": "Firefox",
        "$browser_version": 121,
        "$os": "Mac OS X",
        "$device_type": "Desktop",
        "$lib": "web",
    }
    got = capture(shared_env, dict(own), headers={"User-Agent": SAFARI_IPHONE})
    assert got["browser"] == "Firefox"
    assert got["browser_version"] is None  # not a string: kept in properties, not in the column
    assert got["os"] == "Mac OS X"
    assert got["os_version"] is None
    assert got["device_type"] == "Desktop"
    for key, value in own.items():
        assert got["properties"][key] == value
    assert "$os_version" not in got["properties"]


def test_server_side_lib_without_raw_user_agent_gets_no_device(shared_env: Env) -> None:
    # The request's agent is the server's HTTP client, not the user's browser.
    got = capture(shared_env, {"$lib": "posthog-node"}, headers={"User-Agent": CHROME_WINDOWS})
    assert_no_device(got)


@pytest.mark.parametrize("ua", ["curl/8.5.0", "", "python-httpx/0.28.1"])
def test_non_browser_user_agents_give_no_device(shared_env: Env, ua: str) -> None:
    got = capture(shared_env, {}, headers={"User-Agent": ua})
    assert_no_device(got)


# -- referrer, campaign, path -----------------------------------------------------------------


def test_referrer_gives_the_referring_domain(shared_env: Env) -> None:
    host = f"{new_id('ref')}.example.org"
    got = capture(shared_env, {"$referrer": f"https://{host}:8443/search?q=userlens#top"})
    assert got["referring_domain"] == host
    assert got["properties"]["$referring_domain"] == host
    assert got["referrer"] == f"https://{host}:8443/search?q=userlens#top"


def test_direct_traffic(shared_env: Env) -> None:
    got = capture(shared_env, {"$referrer": "$direct"})
    assert got["referring_domain"] == "$direct"
    assert got["properties"]["$referring_domain"] == "$direct"


def test_explicit_referring_domain_is_kept(shared_env: Env) -> None:
    given = f"{new_id('given')}.example"
    got = capture(shared_env, {"$referrer": "https://other.example/", "$referring_domain": given})
    assert got["referring_domain"] == given
    assert got["properties"]["$referring_domain"] == given


def test_campaign_parameters_are_copied_from_the_url(shared_env: Env) -> None:
    campaign = {
        "utm_source": new_id("src"),
        "utm_medium": "email",
        "utm_campaign": new_id("camp"),
        "utm_content": "hero button",
        "utm_term": "analytics",
        "gclid": new_id("g"),
        "fbclid": new_id("f"),
        "msclkid": new_id("m"),
    }
    path = f"/{new_id('p')}/pricing"
    query = urlencode({**campaign, "page": "2", "ref": "nav"})
    got = capture(shared_env, {"$current_url": f"https://app.example{path}?{query}"})
    for key, value in campaign.items():
        assert got["properties"][key] == value, key
    assert "page" not in got["properties"]
    assert "ref" not in got["properties"]
    assert got["pathname"] == path
    assert got["properties"]["$pathname"] == path


def test_explicit_campaign_properties_win(shared_env: Env) -> None:
    mine = new_id("mine")
    url_source = new_id("url")
    url_medium = new_id("medium")
    got = capture(
        shared_env,
        {
            "utm_source": mine,
            "$current_url": f"https://app.example/?utm_source={url_source}&utm_medium={url_medium}",
        },
    )
    assert got["properties"]["utm_source"] == mine
    assert got["properties"]["utm_medium"] == url_medium


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://app.example", "/"),
        ("https://app.example/", "/"),
        ("https://app.example/a/b/c.html?x=1#frag", "/a/b/c.html"),
        ("https://app.example/caf%C3%A9", "/caf%C3%A9"),
    ],
)
def test_pathname_from_the_url(shared_env: Env, url: str, path: str) -> None:
    got = capture(shared_env, {"$current_url": url})
    assert got["pathname"] == path
    assert got["properties"]["$pathname"] == path
    assert got["current_url"] == url


def test_explicit_pathname_is_kept(shared_env: Env) -> None:
    given = f"/{new_id('given')}"
    got = capture(shared_env, {"$current_url": "https://app.example/other", "$pathname": given})
    assert got["pathname"] == given


def test_unparseable_urls_are_stored_without_enrichment(shared_env: Env) -> None:
    got = capture(shared_env, {"$current_url": "http://[::1", "$referrer": "http://[nope"})
    assert got["current_url"] == "http://[::1"
    assert got["referring_domain"] is None


# -- GeoIP ------------------------------------------------------------------------------------

# network -> (country code, country name, city name)
PLACES: dict[str, tuple[str, str, str]] = {
    "81.2.69.0/24": ("GB", "United Kingdom", "London"),
    "89.160.20.112/28": ("SE", "Sweden", "Linköping"),
    "175.16.199.0/24": ("CN", "China", "Changchun"),
}


def write_geoip_db(path: Path) -> None:
    writer = MMDBWriter(
        ip_version=4, database_type="GeoLite2-City", languages=["en"], description="test"
    )
    for network, (code, country, city) in PLACES.items():
        writer.insert_network(
            IPSet([network]),
            {
                "country": {"iso_code": code, "names": {"en": country, "de": f"{country} (de)"}},
                "city": {"names": {"en": city}},
            },
        )
    writer.to_db_file(str(path))


def address_in(network: str) -> str:
    hosts = list(ipaddress.ip_network(network).hosts())
    return str(hosts[secrets.randbelow(len(hosts))])


@pytest.fixture(scope="module")
def geoip_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("geoip") / "test-city.mmdb"
    write_geoip_db(path)
    return path


@pytest.fixture(scope="module")
def geo_env(tmp_path_factory: pytest.TempPathFactory, geoip_db: Path) -> Iterator[Env]:
    env = build_env(tmp_path_factory.mktemp("geo") / "data", geoip_db=str(geoip_db))
    yield env
    close_env(env)


@pytest.fixture(scope="module")
def geo_proxy_env(tmp_path_factory: pytest.TempPathFactory, geoip_db: Path) -> Iterator[Env]:
    env = build_env(
        tmp_path_factory.mktemp("geo-proxy") / "data", geoip_db=str(geoip_db), trust_proxy=True
    )
    yield env
    close_env(env)


def assert_place(got: dict[str, Any], place: tuple[str, str, str] | None) -> None:
    if place is None:
        assert got["country"] is None
        for key in ("$geoip_country_code", "$geoip_country_name", "$geoip_city_name"):
            assert key not in got["properties"], key
        return
    code, country, city = place
    assert got["country"] == code
    assert got["properties"]["$geoip_country_code"] == code
    assert got["properties"]["$geoip_country_name"] == country
    assert got["properties"]["$geoip_city_name"] == city


@pytest.mark.parametrize("network", PLACES)
def test_geoip_from_the_ip_property(geo_env: Env, network: str) -> None:
    ip = address_in(network)
    got = capture(geo_env, {"$ip": ip})
    assert_place(got, PLACES[network])
    assert got["properties"]["$ip"] == ip


@pytest.mark.parametrize("ip", ["10.1.2.3", "81.2.70.1", "not an ip", "2001:db8::1", ""])
def test_addresses_outside_the_database_add_nothing(geo_env: Env, ip: str) -> None:
    assert_place(capture(geo_env, {"$ip": ip}), None)


def test_geoip_disable_is_respected(geo_env: Env) -> None:
    got = capture(geo_env, {"$ip": address_in("81.2.69.0/24"), "$geoip_disable": True})
    assert_place(got, None)


def test_country_sent_by_the_client_is_kept(geo_env: Env) -> None:
    got = capture(geo_env, {"$ip": address_in("81.2.69.0/24"), "$geoip_country_code": "FR"})
    assert got["country"] == "FR"
    assert "$geoip_city_name" not in got["properties"]


def test_without_a_database_nothing_geo_is_added(shared_env: Env) -> None:
    assert_place(capture(shared_env, {"$ip": address_in("81.2.69.0/24")}), None)


def test_forwarded_for_is_used_only_behind_a_trusted_proxy(
    geo_env: Env, geo_proxy_env: Env
) -> None:
    ip = address_in("89.160.20.112/28")
    headers = {"X-Forwarded-For": f"{ip}, 10.0.0.1"}
    assert_place(capture(geo_proxy_env, {}, headers=headers), PLACES["89.160.20.112/28"])
    assert_place(capture(geo_env, {}, headers=headers), None)


def test_ip_property_beats_the_connection_address(geo_proxy_env: Env) -> None:
    headers = {"X-Forwarded-For": address_in("175.16.199.0/24")}
    got = capture(geo_proxy_env, {"$ip": address_in("81.2.69.0/24")}, headers=headers)
    assert_place(got, PLACES["81.2.69.0/24"])
