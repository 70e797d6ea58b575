"""Helpers shared by the JSON API routers: errors, times and keyset cursors."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated

import orjson
from fastapi import HTTPException
from fastapi import Path as PathParam

from userlens.model.filters import FILTER_KINDS
from userlens.model.ids import MAX_ID

# An id in a route's path, as `model.ids.Id` takes one in a body.
PathId = Annotated[int, PathParam(ge=1, le=MAX_ID)]


def bad_request(code: str, detail: str) -> HTTPException:
    return HTTPException(400, detail={"error": code, "detail": detail})


def field_path(parts: list[str]) -> str:
    """Where a validation problem is, as `series.0.filters.1.value`: without the kind of filter
    that pydantic puts after a filter's index when it picks one of several kinds."""
    return ".".join(
        p for i, p in enumerate(parts) if not (p in FILTER_KINDS and i and parts[i - 1].isdigit())
    )


def aware(value: datetime | None) -> datetime | None:
    """A time from a query parameter, read as UTC when it names no zone."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def encode_cursor(at: datetime, key: str) -> str:
    """An opaque cursor for keyset pagination over (time, key)."""
    raw = orjson.dumps([at.isoformat(), key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[datetime, str]:
    """The (time, key) of a cursor this API returned; 400 for anything else."""
    try:
        at, key = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return datetime.fromisoformat(at), str(key)
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise bad_request("invalid_cursor", "cursor is not one this API returned") from exc
