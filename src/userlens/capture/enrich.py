"""Server-side enrichment: user agent, referrer, UTM parameters and (optionally) GeoIP."""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import maxminddb
import ua_parser

CAMPAIGN_PARAMS = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "gclid",
    "fbclid",
    "msclkid",
)
_BROWSER_LIBS = frozenset({"web", "userlens-web", "posthog-js", "js"})


@dataclasses.dataclass(frozen=True, slots=True)
class RequestContext:
    """What the HTTP layer knows about a request that enrichment may use."""

    user_agent: str
    client_ip: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Device:
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device_type: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Enriched:
    pathname: str | None
    referring_domain: str | None
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device_type: str | None
    country: str | None


def _version(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return ".".join(kept) if kept else None


def _device_type(ua: str, os_family: str, device_family: str) -> str:
    lowered = ua.lower()
    if "ipad" in lowered or "tablet" in lowered or device_family.lower().endswith("tablet"):
        return "Tablet"
    if os_family == "Android" and "mobile" not in lowered:
        return "Tablet"
    if os_family in {"iOS", "Android", "Windows Phone", "BlackBerry OS"} or "mobi" in lowered:
        return "Mobile"
    return "Desktop"


@functools.lru_cache(maxsize=4096)
def parse_user_agent(ua: str) -> Device:
    """Browser, OS and device type of a user agent string (cached: few distinct agents)."""
    result = ua_parser.parse(ua[:1024])
    browser = result.user_agent
    os_ = result.os
    device = result.device
    os_family = os_.family if os_ else ""
    return Device(
        browser=browser.family if browser and browser.family != "Other" else None,
        browser_version=_version(browser.major, browser.minor) if browser else None,
        os=os_family if os_family and os_family != "Other" else None,
        os_version=_version(os_.major, os_.minor) if os_ else None,
        device_type=_device_type(ua, os_family, device.family if device else ""),
    )


@functools.lru_cache(maxsize=65536)
def _split(url: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "", "", ()
    campaign = tuple(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=False) if k in CAMPAIGN_PARAMS
    )
    return parts.hostname or "", parts.path, campaign


class Enricher:
    """Adds what the server can know about an event to its properties, in place."""

    def __init__(self, geoip_db: Path | None = None) -> None:
        self._geo: maxminddb.Reader | None = (
            maxminddb.open_database(str(geoip_db)) if geoip_db else None
        )

    def close(self) -> None:
        if self._geo is not None:
            self._geo.close()

    def enrich(self, props: dict[str, Any], ctx: RequestContext) -> Enriched:
        pathname = props.get("$pathname")
        current_url = props.get("$current_url")
        if isinstance(current_url, str) and current_url:
            _, path, campaign = _split(current_url)
            if not isinstance(pathname, str):
                pathname = path or "/"
                props["$pathname"] = pathname
            for key, value in campaign:
                props.setdefault(key, value)
        referring_domain = props.get("$referring_domain")
        referrer = props.get("$referrer")
        if not isinstance(referring_domain, str) and isinstance(referrer, str):
            referring_domain = "$direct" if referrer == "$direct" else _split(referrer)[0] or None
            if referring_domain:
                props["$referring_domain"] = referring_domain
        device = self._device(props, ctx)
        country = self._country(props, ctx)
        return Enriched(
            pathname=pathname if isinstance(pathname, str) else None,
            referring_domain=referring_domain if isinstance(referring_domain, str) else None,
            browser=device.browser,
            browser_version=device.browser_version,
            os=device.os,
            os_version=device.os_version,
            device_type=device.device_type,
            country=country,
        )

    @staticmethod
    def _device(props: dict[str, Any], ctx: RequestContext) -> Device:
        if isinstance(props.get("$browser"), str):
            return Device(
                browser=props["$browser"],
                browser_version=_str(props.get("$browser_version")),
                os=_str(props.get("$os")),
                os_version=_str(props.get("$os_version")),
                device_type=_str(props.get("$device_type")),
            )
        ua = props.get("$raw_user_agent")
        if not isinstance(ua, str):
            lib = props.get("$lib")
            if lib is not None and lib not in _BROWSER_LIBS:
                return Device(None, None, None, None, None)
            ua = ctx.user_agent
        if not ua or not ua.startswith("Mozilla/"):
            return Device(None, None, None, None, None)
        device = parse_user_agent(ua)
        for key, value in (
            ("$browser", device.browser),
            ("$browser_version", device.browser_version),
            ("$os", device.os),
            ("$os_version", device.os_version),
            ("$device_type", device.device_type),
        ):
            if value is not None:
                props[key] = value
        return device

    def _country(self, props: dict[str, Any], ctx: RequestContext) -> str | None:
        known = props.get("$geoip_country_code")
        if isinstance(known, str):
            return known
        if self._geo is None or props.get("$geoip_disable"):
            return None
        ip = props.get("$ip") if isinstance(props.get("$ip"), str) else ctx.client_ip
        if not ip:
            return None
        found = _lookup(self._geo, ip)
        if found is None:
            return None
        code, name, city = found
        if code:
            props["$geoip_country_code"] = code
        if name:
            props["$geoip_country_name"] = name
        if city:
            props["$geoip_city_name"] = city
        return code


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _lookup(reader: maxminddb.Reader, ip: str) -> tuple[str | None, str | None, str | None] | None:
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    try:
        record = reader.get(address)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    country = record.get("country")
    code = _str(country.get("iso_code")) if isinstance(country, dict) else None
    return code, _english_name(country), _english_name(record.get("city"))


def _english_name(section: Any) -> str | None:
    if not isinstance(section, dict):
        return None
    names = section.get("names")
    return _str(names.get("en")) if isinstance(names, dict) else None
