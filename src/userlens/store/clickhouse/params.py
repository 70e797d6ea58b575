"""Insight SQL's `$name` parameters as ClickHouse's typed `{name:Type}` placeholders
(`typed`), and each value as the text ClickHouse parses for its type (`as_text`, for a
transport that sends text). Values never enter the SQL."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

# A string literal (left alone: '$pageview' is not a parameter) or a `$name` placeholder.
_TOKEN = re.compile(r"('(?:[^'\\]|\\.|'')*')|\$([a-z_][a-z0-9_]*)")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def _type(value: Any) -> str:
    if value is None:
        return "Nullable(String)"
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, str):
        return "String"
    if isinstance(value, datetime):
        return "DateTime64(6)"
    if isinstance(value, list | tuple):
        inner = {_type(v) for v in value} or {"String"}
        if len(inner) != 1:
            raise TypeError(f"a list parameter mixes types: {sorted(inner)}")
        return f"Array({inner.pop()})"
    raise TypeError(f"no ClickHouse type for a parameter of type {type(value).__name__}")


def _time(value: datetime) -> str:
    if value.tzinfo is not None:
        raise ValueError("time parameters are naive UTC")
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _text(value: Any) -> str:
    """A top-level value, in ClickHouse's escaped text form."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _time(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_literal(v) for v in value) + "]"
    return str(value).translate(_ESCAPES)


def _literal(value: Any) -> str:
    """A value inside an array: strings and times quoted."""
    if isinstance(value, str):
        return "'" + value.translate(_ESCAPES).replace("'", "\\'") + "'"
    if isinstance(value, datetime):
        return f"'{_time(value)}'"
    return _text(value)


def typed(sql: str, params: Mapping[str, Any]) -> str:
    """`sql` with each `$name` as `{name:Type}`, the type following its value."""
    types = {name: _type(value) for name, value in params.items()}

    def swap(match: re.Match[str]) -> str:
        name = match.group(2)
        if name is None:
            return match.group(0)
        if name not in types:
            raise ValueError(f"unbound parameter ${name}")
        return "{" + f"{name}:{types[name]}" + "}"

    return _TOKEN.sub(swap, sql)


def as_text(params: Mapping[str, Any]) -> dict[str, str]:
    """The values as the text ClickHouse parses for their types (what its HTTP interface takes
    as `param_<name>`)."""
    return {name: _text(value) for name, value in params.items()}
