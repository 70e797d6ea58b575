"""Turn a capture request body, in any of the encodings SDKs use, into parsed JSON."""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import orjson

from userlens.errors import CaptureError

GZIP_MAGIC = b"\x1f\x8b"
_LZ64_VALUES = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
}


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


def _invalid_lz64(detail: str = "body is not valid lz-string data") -> CaptureError:
    return CaptureError(400, "invalid_lz64", detail)


def _lz64_too_large(max_size: int) -> CaptureError:
    return CaptureError(
        413, "decompressed_too_large", f"body decompresses to more than {max_size} bytes"
    )


class _LzBits:
    """The bits of lz-string's base64 form: 6 a character, most significant first."""

    def __init__(self, text: str) -> None:
        try:
            self._values = [_LZ64_VALUES[c] for c in text]
        except KeyError as exc:
            raise _invalid_lz64() from exc
        self._index = 0
        self._mask = 32

    def read(self, count: int) -> int:
        """The next `count` bits as a number, least significant bit first."""
        value = 0
        for power in range(count):
            if self._index >= len(self._values):
                raise _invalid_lz64("lz-string data ends early")
            if self._values[self._index] & self._mask:
                value |= 1 << power
            self._mask >>= 1
            if not self._mask:
                self._mask = 32
                self._index += 1
        return value


def _lz64(text: str, max_size: int) -> bytes:
    """lz-string's decompressFromBase64, refusing output over `max_size` (bomb guard).

    lz-string output can grow with the square of its input (a 100 kB body can stand for
    gigabytes), so this decoder counts what it produces instead of trusting a library to.
    """
    bits = _LzBits(text.strip().replace(" ", "+"))
    kind = bits.read(2)
    if kind > 1:
        raise _invalid_lz64()
    w = chr(bits.read(8 if kind == 0 else 16))
    entries = ["", "", "", w]  # codes 0-2 are markers, not entries
    out = [w]
    size = len(w)
    num_bits, enlarge_in = 3, 4
    while True:
        code = bits.read(num_bits)
        if code == 2:
            break
        if code < 2:  # a new literal character, 8 or 16 bits wide
            entries.append(chr(bits.read(8 if code == 0 else 16)))
            code = len(entries) - 1
            enlarge_in -= 1
            if enlarge_in == 0:
                enlarge_in, num_bits = 1 << num_bits, num_bits + 1
        if code < len(entries):
            entry = entries[code]
        elif code == len(entries):
            entry = w + w[0]
        else:
            raise _invalid_lz64()
        size += len(entry)
        if size > max_size:
            raise _lz64_too_large(max_size)
        out.append(entry)
        entries.append(w + entry[0])
        enlarge_in -= 1
        if enlarge_in == 0:
            enlarge_in, num_bits = 1 << num_bits, num_bits + 1
        w = entry
    # lz-string works on UTF-16 code units: pair up surrogates before encoding as UTF-8.
    units = "".join(out).encode("utf-16-le", "surrogatepass")
    data = units.decode("utf-16-le", "replace").encode("utf-8")
    if len(data) > max_size:
        raise _lz64_too_large(max_size)
    return data


def parse_json(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CaptureError(400, "invalid_json", f"body is not valid JSON: {exc}") from exc


def _unwrap_text(data: bytes, compression: str, max_size: int) -> bytes:
    """Apply the textual encoding named by `compression` to a payload."""
    if compression == "lz64":
        return _lz64(data.decode("ascii", "replace"), max_size)
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
