"""Turn a capture request body, in any of the encodings SDKs use, into parsed JSON."""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import orjson
from lzstring import LZString

from userlens.errors import CaptureError

GZIP_MAGIC = b"\x1f\x8b"


def gunzip(data: bytes, max_size: int) -> bytes:
    """Decompress gzip (or zlib) data, refusing output over `max_size` bytes (bomb guard)."""
    out = bytearray()
    rest = data
    # Some clients concatenate gzip members; keep going until the input is used up.
    while rest:
        decomp = zlib.decompressobj(wbits=47)
        try:
            chunk = decomp.decompress(rest, max_size - len(out) + 1)
        except zlib.error as exc:
            raise CaptureError(400, "invalid_gzip", f"body is not valid gzip: {exc}") from exc
        out += chunk
        if len(out) > max_size or decomp.unconsumed_tail:
            raise CaptureError(
                413, "decompressed_too_large", f"body decompresses to more than {max_size} bytes"
            )
        if not decomp.eof:
            raise CaptureError(400, "invalid_gzip", "gzip body is truncated")
        rest = decomp.unused_data.lstrip(b"\x00")
    return bytes(out)


def _b64(text: str | bytes) -> bytes:
    raw = text.decode("ascii", "replace") if isinstance(text, bytes) else text
    raw = raw.strip().replace(" ", "+")
    raw += "=" * (-len(raw) % 4)
    try:
        return base64.b64decode(raw, altchars=b"-_" if "-" in raw or "_" in raw else None)
    except (binascii.Error, ValueError) as exc:
        raise CaptureError(400, "invalid_base64", f"body is not valid base64: {exc}") from exc


def _lz64(text: str) -> bytes:
    try:
        out = LZString().decompressFromBase64(text.strip().replace(" ", "+"))
    except Exception as exc:  # the library raises assorted errors on garbage
        raise CaptureError(400, "invalid_lz64", "body is not valid lz-string data") from exc
    if not out:
        raise CaptureError(400, "invalid_lz64", "body is not valid lz-string data")
    return str(out).encode("utf-8")


def parse_json(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CaptureError(400, "invalid_json", f"body is not valid JSON: {exc}") from exc


def _unwrap_text(data: bytes, compression: str, max_size: int) -> bytes:
    """Apply the textual encoding named by `compression` to a payload."""
    if compression == "lz64":
        return _lz64(data.decode("ascii", "replace"))
    if compression == "base64":
        return _b64(data)
    if compression == "gzip-js" or data[:2] == GZIP_MAGIC:
        return gunzip(data, max_size)
    stripped = data.lstrip()
    if stripped[:1] in (b"{", b"[", b'"') or not stripped:
        return data
    # Very old SDKs send bare base64 without saying so.
    return _b64(data)


def decode_body(
    body: bytes,
    *,
    method: str,
    content_type: str,
    content_encoding: str,
    query: Mapping[str, str],
    max_size: int,
) -> Any:
    """Parsed JSON of a capture request, whichever encoding the SDK used."""
    compression = query.get("compression", "").lower()
    if method == "GET" or (not body and "data" in query):
        data = query.get("data")
        if not data:
            raise CaptureError(400, "no_data", "GET capture needs a data= query parameter")
        return parse_json(_unwrap_text(data.encode("utf-8"), compression or "base64", max_size))
    if not body:
        raise CaptureError(400, "empty_body", "request body is empty")
    if "gzip" in content_encoding.lower() or body[:2] == GZIP_MAGIC:
        body = gunzip(body, max_size)
        if compression == "gzip-js":
            compression = ""
    if content_type.startswith("application/x-www-form-urlencoded") or body[:5] == b"data=":
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        compression = (form.get("compression") or [compression])[0].lower()
        values = form.get("data")
        if not values or not values[0]:
            raise CaptureError(400, "no_data", "form body has no data= field")
        # parse_qs already turned '+' into spaces; _b64 and _lz64 turn them back.
        return parse_json(
            _unwrap_text(values[0].encode("utf-8"), compression or "base64", max_size)
        )
    return parse_json(_unwrap_text(body, compression, max_size))


def query_params(raw: bytes) -> dict[str, str]:
    """The first value of each query parameter."""
    out: dict[str, str] = {}
    for part in raw.decode("latin-1").split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        out.setdefault(unquote_plus(key), unquote_plus(value))
    return out
