"""The request envelope: which events a body holds, under which token, sent when."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from userlens.errors import CaptureError

PERSONAL_KEY_PREFIXES = ("phx_", "ulx_")
MAX_TOKEN_LENGTH = 64
MAX_EVENTS_PER_REQUEST = 50_000


@dataclasses.dataclass(frozen=True, slots=True)
class Envelope:
    token: str
    events: list[Any]
    sent_at: Any
    historical: bool


def _event_token(event: Any) -> Any:
    if not isinstance(event, dict):
        return None
    for key in ("token", "$token", "api_key"):
        if event.get(key) is not None:
            return event[key]
    props = event.get("properties")
    if isinstance(props, dict):
        return props.get("token")
    return None


def check_token(token: Any) -> str:
    """The token, if it is well formed; else a 401 naming what is wrong with it."""
    if not isinstance(token, str) or not token:
        raise CaptureError(401, "missing_token", "no project token (api_key) in the request")
    if len(token) > MAX_TOKEN_LENGTH:
        raise CaptureError(401, "invalid_token", f"token longer than {MAX_TOKEN_LENGTH} characters")
    if not token.isascii() or "\x00" in token or not token.isprintable():
        raise CaptureError(401, "invalid_token", "token must be printable ASCII")
    if token.startswith(PERSONAL_KEY_PREFIXES):
        raise CaptureError(
            401, "personal_key", "a personal API key was sent; capture needs the project token"
        )
    return token


def unwrap(payload: Any, query: Mapping[str, str]) -> Envelope:
    """Find events and the token in a decoded payload: envelope, bare array or one event."""
    envelope_token: Any = None
    sent_at: Any = None
    historical = False
    if isinstance(payload, dict) and "batch" in payload:
        events = payload["batch"]
        if not isinstance(events, list):
            raise CaptureError(400, "invalid_batch", "'batch' must be a list of events")
        envelope_token = payload.get("api_key") or payload.get("token")
        sent_at = payload.get("sent_at")
        historical = payload.get("historical_migration") is True
    elif isinstance(payload, list):
        events = payload
    elif isinstance(payload, dict):
        events = [payload]
    else:
        raise CaptureError(400, "invalid_payload", "body must be a JSON object or array of events")
    if not events:
        raise CaptureError(400, "empty_batch", "the request holds no events")
    if len(events) > MAX_EVENTS_PER_REQUEST:
        raise CaptureError(
            413, "too_many_events", f"more than {MAX_EVENTS_PER_REQUEST} events in one request"
        )
    tokens: set[str] = set()
    for tok in (envelope_token, *map(_event_token, events)):
        if tok is None:
            continue
        if not isinstance(tok, str):
            raise CaptureError(401, "invalid_token", "the project token must be a string")
        tokens.add(tok)
    if len(tokens) > 1:
        raise CaptureError(400, "multiple_tokens", "one request may carry only one project token")
    token = check_token(tokens.pop() if tokens else query.get("token") or query.get("api_key"))
    if sent_at is None:
        sent_at = _query_sent_at(query)
    return Envelope(token=token, events=events, sent_at=sent_at, historical=historical)


def _query_sent_at(query: Mapping[str, str]) -> Any:
    """Send time in ms from `_=` or `sent_at=`; values that look like seconds are ignored."""
    for key in ("sent_at", "_"):
        raw = query.get(key)
        if raw and raw.isdigit():
            value = int(raw)
            if value > 10**11:  # milliseconds since 1973; smaller values are seconds
                return value
    return None
