"""Validate one raw event and turn it into a `CapturedEvent`."""

from __future__ import annotations

import re
import uuid as uuidlib
from typing import Any

import orjson

from userlens.capture.enrich import Enricher, RequestContext
from userlens.capture.timestamps import event_time_us
from userlens.errors import EventRejected
from userlens.model.event import CapturedEvent

MAX_EVENT_NAME = 200
MAX_DISTINCT_ID = 200
MAX_PROPERTIES_BYTES = 1_000_000
MAX_COLUMN_TEXT = 8_192
_PERSON_KEYS = frozenset({"$set", "$set_once", "$unset"})
_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def distinct_id_of(event: dict[str, Any], props: dict[str, Any]) -> str:
    """The event's distinct id, as the protocol finds and cleans it."""
    raw = event.get("distinct_id")
    if raw is None:
        raw = event.get("$distinct_id")
    if raw is None:
        raw = props.get("distinct_id")
    if raw is None:
        raise EventRejected("missing_distinct_id", "event has no distinct_id")
    if isinstance(raw, dict | list):
        raise EventRejected("invalid_distinct_id", "distinct_id must be a string or number")
    text = raw if isinstance(raw, str) else orjson.dumps(raw).decode()
    text = text.strip()[:MAX_DISTINCT_ID]
    if not text or "\x00" in text:
        raise EventRejected("invalid_distinct_id", "distinct_id is empty")
    return text


def _event_name(event: dict[str, Any]) -> str:
    name = event.get("event")
    if name is None:
        raise EventRejected("missing_event", "event has no 'event' name")
    if not isinstance(name, str):
        raise EventRejected("invalid_event_name", "'event' must be a string")
    if not name:
        raise EventRejected("invalid_event_name", "'event' is empty")
    if len(name) > MAX_EVENT_NAME:
        raise EventRejected(
            "invalid_event_name", f"'event' is longer than {MAX_EVENT_NAME} characters"
        )
    if "\x00" in name:
        raise EventRejected("invalid_event_name", "'event' contains a NUL character")
    return name


def _uuid(event: dict[str, Any], now_us: int) -> str:
    raw = event.get("uuid")
    if raw is None:
        return str(uuid7(now_us))
    if not isinstance(raw, str):
        raise EventRejected("invalid_uuid", "uuid must be a string")
    if _CANONICAL_UUID.fullmatch(raw):  # the usual case, without building a UUID object
        return raw.lower()
    try:
        return str(uuidlib.UUID(raw))
    except ValueError as exc:
        raise EventRejected("invalid_uuid", f"uuid is not a UUID: {raw[:64]!r}") from exc


def uuid7(now_us: int) -> uuidlib.UUID:
    """A time-ordered UUID (version 7) for events that came without one."""
    ms = now_us // 1000
    rand = int.from_bytes(uuidlib.uuid4().bytes[6:], "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand & ((1 << 76) - 1))
    value = value & ~(0x3 << 62) | (0x2 << 62)
    return uuidlib.UUID(int=value)


def _dict_or_none(value: Any, field: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise EventRejected("invalid_person_properties", f"{field} must be an object")
    return value


def _person_updates(
    event: dict[str, Any], props: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, list[str] | None]:
    if not (_PERSON_KEYS & props.keys() or _PERSON_KEYS & event.keys()):
        return None, None, None  # the common case: nothing to do for the person
    sets: dict[str, Any] = {}
    sets_once: dict[str, Any] = {}
    for source in (props, event):
        sets.update(_dict_or_none(source.get("$set"), "$set") or {})
        sets_once.update(_dict_or_none(source.get("$set_once"), "$set_once") or {})
    unset_raw = props.get("$unset", event.get("$unset"))
    unset: list[str] | None = None
    if unset_raw is not None:
        if isinstance(unset_raw, dict):
            unset_raw = list(unset_raw)
        if not isinstance(unset_raw, list) or not all(isinstance(k, str) for k in unset_raw):
            raise EventRejected("invalid_person_properties", "$unset must be a list of names")
        unset = unset_raw
    return sets or None, sets_once or None, unset


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is str:
        return value if len(value) <= MAX_COLUMN_TEXT else value[:MAX_COLUMN_TEXT]
    if isinstance(value, int | float | bool):
        return str(value)
    return None


def _other_id(props: dict[str, Any], key: str) -> str | None:
    value = props.get(key)
    if value is None or isinstance(value, dict | list):
        return None
    text = (value if isinstance(value, str) else str(value)).strip()[:MAX_DISTINCT_ID]
    return text or None


def normalize(
    raw: Any,
    *,
    project_id: int,
    sent_at: Any,
    historical: bool,
    now_us: int,
    ctx: RequestContext,
    enricher: Enricher,
) -> CapturedEvent:
    """A validated, enriched event, or `EventRejected` saying what is wrong with it."""
    if not isinstance(raw, dict):
        raise EventRejected("invalid_event", "each event must be a JSON object")
    props = raw.get("properties")
    if props is None:
        props = {}
    elif not isinstance(props, dict):
        raise EventRejected("invalid_properties", "'properties' must be an object")
    name = _event_name(raw)
    distinct_id = distinct_id_of(raw, props)
    event_uuid = _uuid(raw, now_us)
    ts = event_time_us(raw, props, sent_at, now_us, historical=historical)
    sets, sets_once, unset = _person_updates(raw, props)
    # Server SDKs send $set at the top level; keep it in the properties so it is queryable.
    if sets is not None:
        props.setdefault("$set", sets)
    if sets_once is not None:
        props.setdefault("$set_once", sets_once)
    props.pop("token", None)
    props.pop("distinct_id", None)
    enriched = enricher.enrich(props, ctx)
    try:
        props_bytes = orjson.dumps(props)
    except orjson.JSONEncodeError as exc:
        raise EventRejected("invalid_properties", f"properties cannot be stored: {exc}") from exc
    if len(props_bytes) > MAX_PROPERTIES_BYTES:
        raise EventRejected(
            "properties_too_large", f"properties exceed {MAX_PROPERTIES_BYTES} bytes as JSON"
        )
    props_json = props_bytes.decode()
    return CapturedEvent(
        project_id=project_id,
        uuid=event_uuid,
        event=name,
        distinct_id=distinct_id,
        timestamp_us=ts,
        received_at_us=now_us,
        properties_json=props_json,
        session_id=_text(props.get("$session_id")),
        window_id=_text(props.get("$window_id")),
        current_url=_text(props.get("$current_url")),
        pathname=_text(enriched.pathname),
        referrer=_text(props.get("$referrer")),
        referring_domain=_text(enriched.referring_domain),
        browser=_text(enriched.browser),
        browser_version=_text(enriched.browser_version),
        os=_text(enriched.os),
        os_version=_text(enriched.os_version),
        device_type=_text(enriched.device_type),
        country=_text(enriched.country),
        lib=_text(props.get("$lib")),
        lib_version=_text(props.get("$lib_version")),
        set_props=sets,
        set_once_props=sets_once,
        unset_props=unset,
        anon_distinct_id=_other_id(props, "$anon_distinct_id") if name == "$identify" else None,
        alias=_other_id(props, "alias")
        if name in ("$create_alias", "$merge_dangerously")
        else None,
    )
