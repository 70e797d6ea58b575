"""Regex filters are refused when the stores' regex engine (RE2) would refuse them, so that an
insight names the filter at once instead of failing when its SQL runs. The reference is RE2
itself, as DuckDB and ClickHouse (chDB) run it."""

from __future__ import annotations

import functools
import re
import warnings

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.clickhouse import CHDB_DIR
from userlens.model.filters import Operator, PropertyFilter
from userlens.store.clickhouse import ChdbTransport
from userlens.store.clickhouse.transport import QueryFailed

TOKENS = [
    "a", "b", ".", "*", "+", "?", "{2}", "{1,}", "(", ")", "(?:", "(?=", "(?!", "(?<=", "(?<!",
    "(?>", "(?P<n>", "(?P=n)", "(?i)", "\\1", "\\Z", "\\z", "\\A", "\\b", "\\d", "\\\\", "\\(",
    "\\[", "\\+", "[", "]", "[^", "^", "$", "|", "-", "{40}", "{30,}", "{2,40}", "{1000}",
    "{1001}", "{0}",
]  # fmt: skip


@functools.cache
def _duck() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def _duckdb_takes(pattern: str) -> bool:
    try:
        _duck().execute("SELECT regexp_matches('abc', ?)", [pattern]).fetchall()
    except duckdb.Error:
        return False
    return True


def _clickhouse_takes(pattern: str) -> bool:
    try:
        ChdbTransport(CHDB_DIR).query("SELECT match('abc', {p:String})", {"p": pattern})
    except QueryFailed:
        return False
    return True


def _we_take(pattern: str) -> bool | None:
    """Whether the filter validates; None when Python's `re` refuses it too (another check)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(pattern)
    except re.error:
        return None
    try:
        PropertyFilter(key="url", operator=Operator.REGEX, value=pattern)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    ("pattern", "taken"),
    [
        ("^/pricing", True),
        ("(?i)checkout|cart", True),
        ("\\(?=", True),  # an optional literal parenthesis, then "="
        ("[(?=]", True),  # in a class, those are characters
        ("a\\++", True),
        ("(?=x)", False),
        ("(?<!a)b", False),
        ("(a)\\1", False),
        ("a++", False),
        ("(?>ab)", False),
        ("end\\Z", False),
        ("a{1000}", True),
        ("a{1001}", False),
        ("(a{10}|b{100}){10}", True),
        ("(a{10}|b{101}){10}", False),
        ("a{600}b{600}", True),
        ("[{]{1001}", False),
        ("\\{1001}", True),  # a literal brace
    ],
)
def test_regex_filters_are_taken_as_re2_takes_them(pattern: str, taken: bool) -> None:
    assert _we_take(pattern) is taken
    assert _duckdb_takes(pattern) is taken


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=6).map("".join))
def test_what_python_compiles_is_taken_exactly_when_re2_takes_it(pattern: str) -> None:
    ours = _we_take(pattern)
    if ours is None:
        return
    assert ours == _duckdb_takes(pattern), pattern
    assert ours == _clickhouse_takes(pattern), pattern
