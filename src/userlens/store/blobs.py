"""The `BlobStore` protocol that holds session recording chunks, and its key rules."""

from __future__ import annotations

import builtins
import re
from typing import Protocol

from userlens.errors import InvalidInput

MAX_SEGMENTS = 8
MAX_SEGMENT_CHARS = 200
_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
_SHOWN_CHARS = 80


class BlobStore(Protocol):
    """Immutable-ish byte blobs under '/'-separated keys (see `check_key`).

    A prefix is a key ending in '/' (every key under that path) or a whole key (that key and
    every key under it as a path: "a/b" matches "a/b" and "a/b/c" but never "a/bc").
    `put` and `delete_prefix` are durable when they return. Concurrent calls on different
    keys are safe.
    """

    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing what was there; never leaves a partial blob."""
        ...

    def get(self, key: str) -> bytes:
        """The blob under `key`; raises `NotFound` if there is none."""
        ...

    def list(self, prefix: str) -> builtins.list[str]:
        """Every key matching `prefix`, sorted."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key matching `prefix`; return how many there were."""
        ...

    def size(self, prefix: str) -> int:
        """Total bytes of the blobs matching `prefix`."""
        ...


def check_key(key: str) -> str:
    """Return `key` if it is a valid blob key, else raise `InvalidInput` saying why.

    A key is 1 to 8 '/'-separated segments of 1 to 200 characters of [A-Za-z0-9._-]; no
    segment may start with '.' (that rules out '.' and '..', and names starting with '.' are
    reserved for a store's temporary files).
    """
    _check(key, "blob key")
    return key


def check_prefix(prefix: str) -> str:
    """Return `prefix` if it is a valid key prefix (a key, optionally ending in '/')."""
    _check(prefix.removesuffix("/"), "blob prefix", shown=prefix)
    return prefix


def _check(key: str, what: str, *, shown: str | None = None) -> None:
    name = f"{what} {_show(key if shown is None else shown)}"
    if not key:
        raise InvalidInput(f"{what} is empty")
    if key.startswith("/"):
        raise InvalidInput(f"{name} starts with '/'")
    segments = key.split("/")
    if len(segments) > MAX_SEGMENTS:
        raise InvalidInput(f"{name} has {len(segments)} segments, at most {MAX_SEGMENTS} allowed")
    for segment in segments:
        problem = _segment_problem(segment)
        if problem:
            raise InvalidInput(f"{name} {problem}")


def _segment_problem(segment: str) -> str | None:
    if not segment:
        return "has an empty segment (a '//' or a trailing '/')"
    if len(segment) > MAX_SEGMENT_CHARS:
        return f"has a segment longer than {MAX_SEGMENT_CHARS} characters"
    if not _SEGMENT.fullmatch(segment):
        return f"has a character outside [A-Za-z0-9._-] in segment {_show(segment)}"
    if segment in (".", ".."):
        return f"has a {segment!r} segment"
    if segment.startswith("."):
        return f"has a segment starting with '.' ({_show(segment)})"
    return None


def _show(text: str) -> str:
    if len(text) <= _SHOWN_CHARS:
        return repr(text)
    return repr(text[:_SHOWN_CHARS]) + f"... ({len(text)} characters)"
