"""The SQL that differs between engines, one method per construct.

Insight builders write one query shape for every engine and ask their `Dialect` for the
pieces that are spelled differently: functions, casts, intervals, lists and pairs. `DuckDB`
is the embedded default; `ClickHouse` is the scale-out engine (run in tests by chDB). Values
still reach SQL only as `$name` parameters; a store turns those into its own placeholders.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Literal

from userlens.store.sql import Query

Unit = Literal["microsecond", "second", "day"]


class DuckDB:
    """DuckDB's spelling (the reference the others follow)."""

    name = "duckdb"
    # Sorting many small lists beats two window passes over every row (paths).
    session_lists = True
    # Paths without an anchor: each session's nodes as one sorted array of (time, node) with
    # repeats compacted, by array functions (ClickHouse's; DuckDB's lambdas are slower).
    session_arrays = False
    # Funnels: each person's attempts folded in arrays (`funnel_arrays.py`) rather than
    # ASOF-joined step by step (`funnels.py`); ClickHouse's array functions do it in one
    # aggregation and a sort per step, DuckDB's lambdas were ten times slower than its joins.
    funnel_arrays = False
    # Hour, day and week buckets in a fixed UTC offset: one mask per person, a bit per bucket
    # (trends, lifecycle, retention; see ARCHITECTURE.md).
    bit_masks = True
    # A left join whose right side has at most one row per key (a person's override).
    left_join_unique = "LEFT JOIN"

    def json_key(self, key: str) -> str:
        """What to bind for a property name, for `json_text` (a JSON pointer here)."""
        return "/" + key.replace("~", "~0").replace("/", "~1")

    def json_text(self, column: str, key: str) -> str:
        """A top-level property's JSON text (a string unquoted), NULL when unset or null;
        `key` is the bound `json_key` of the property name."""
        return f"json_extract_string({column}, {key})"

    def each_key(self, column: str) -> str:
        """In a SELECT list: one row per top-level key of the JSON object in `column`."""
        return f"unnest(json_keys({column}))"

    def in_list(self, value: str, items: str) -> str:
        """True when `value` is in the bound list `items`; false (never NULL) otherwise."""
        return f"coalesce(list_contains({items}, {value}), false)"

    def contains(self, text: str, part: str) -> str:
        """Case-insensitive substring test, false for NULL."""
        return f"coalesce(contains(lower({text}), lower({part})), false)"

    def regex(self, text: str, pattern: str) -> str:
        """An RE2 search (not a full match), false for NULL."""
        return f"coalesce(regexp_matches({text}, {pattern}), false)"

    def replace_all(self, text: str, pattern: str, replacement: str) -> str:
        """`text` with every match of the RE2 `pattern` replaced by plain `replacement`."""
        return f"regexp_replace({text}, {pattern}, {replacement}, 'g')"

    def to_number(self, text: str) -> str:
        return f"TRY_CAST({text} AS DOUBLE)"

    def interval(self, unit: Unit, amount: str) -> str:
        return f"to_{unit}s({amount})"

    def trunc(self, part: str, moment: str) -> str:
        """The start of `moment`'s hour/day/week (Monday)/month; `part` a bound parameter."""
        return f"date_trunc({part}, {moment})"

    def arg_min(self, value: str, key: str) -> str:
        return f"arg_min({value}, {key})"

    def arg_max(self, value: str, key: str) -> str:
        return f"arg_max({value}, {key})"

    def quantile(self, value: str, level: float) -> str:
        """Linear interpolation between the closest ranks (R-7), as NumPy's default."""
        return f"quantile_cont({value}, {level})"

    def int_div(self, a: str, b: str) -> str:
        return f"({a}) // ({b})"

    def epoch_us(self, moment: str) -> str:
        return f"epoch_us({moment})"

    def from_epoch_us(self, us: str) -> str:
        """The UTC timestamp `us` microseconds after the epoch."""
        return f"make_timestamp({us})"

    def null_text(self) -> str:
        return "CAST(NULL AS VARCHAR)"

    def doubles(self, items: Sequence[str]) -> str:
        """A list of nullable numbers as doubles."""
        return f"CAST([{', '.join(items)}] AS DOUBLE[])"

    def rows_of(self, columns: dict[str, str]) -> str:
        """A SELECT with one row per position of the bound lists (all of one length)."""
        return "SELECT " + ", ".join(
            f"unnest({items}) AS {name}" for name, items in columns.items()
        )

    def sorted_list(self, value: str) -> str:
        """Aggregate: the values as a sorted list."""
        return f"list({value} ORDER BY {value})"

    def starts_with(self, text: str, prefix: str) -> str:
        return f"starts_with({text}, {prefix})"

    def nullable(self, value: str) -> str:
        """`value` typed so that a missing one (lag/lead past the edge) reads as NULL."""
        return value

    def present(self, value: str) -> str:
        """`value`, known by the query not to be NULL, typed so (ClickHouse groups and sorts
        by a non-nullable key much faster)."""
        return value

    def pair(self, first: str, second: str) -> str:
        return f"{{'t': {first}, 's': {second}}}"

    def first(self, pair: str) -> str:
        return f"{pair}.t"

    def second(self, pair: str) -> str:
        return f"{pair}.s"

    def sorted_present(self, items: Sequence[str]) -> str:
        """The non-NULL items, sorted."""
        return f"list_sort(list_filter([{', '.join(items)}], lambda x: x IS NOT NULL))"

    # -- BIGINT bit masks (`bit_masks`) ---------------------------------------------------

    def bit(self, index: str) -> str:
        """A BIGINT with only bit `index` set. A negative index counts as 0: ClickHouse
        computes a CASE's branches for rows that do not take them, and refuses to shift by
        a negative amount."""
        return f"(CAST(1 AS BIGINT) << CAST(greatest({index}, 0) AS INTEGER))"

    def or_bits(self, mask: str) -> str:
        """Aggregate: the masks OR-ed together."""
        return f"bit_or({mask})"

    def any_true(self, flag: str) -> str:
        """Aggregate: whether the condition held for any row."""
        return f"bool_or({flag})"

    def bits_of(self, mask: str, low: str, width: str) -> str:
        """Whether any of the `width` bits of `mask` from bit `low` is set; `width` a bound
        parameter holding (1 << bits) - 1."""
        return f"(({mask} >> ({low})) & {width} <> 0)"

    def has_bit(self, mask: str, index: str) -> str:
        return f"(({mask} >> ({index})) & 1 = 1)"

    def below(self, mask: str, index: str) -> str:
        """`mask` with only its bits below `index` kept."""
        return f"({mask} & ({self.bit(index)} - 1))"

    def lowest_bit(self, mask: str) -> str:
        """The index of the lowest set bit of a non-zero mask."""
        return f"bit_count(({mask} & -{mask}) - 1)"

    def count_bits(self, mask: str) -> str:
        return f"bit_count({mask})"


class ClickHouse(DuckDB):
    """ClickHouse's spelling. Its queries run with `join_use_nulls` and `group_by_use_nulls`
    (a missing join partner and a grouping set's total read as NULL, as in standard SQL)."""

    name = "clickhouse"
    session_lists = False
    session_arrays = True
    funnel_arrays = True
    # ANY: the join stops at the first match instead of collecting every one (~40 ms of ~80
    # for the overrides join over 10M events).
    left_join_unique = "LEFT ANY JOIN"

    def json_key(self, key: str) -> str:
        return key

    def json_text(self, column: str, key: str) -> str:
        kind = f"JSONType({column}, {key})"
        return (
            f"multiIf({kind} = 'String', JSONExtractString({column}, {key}), "
            f"{kind} = 'Null', NULL, JSONExtractRaw({column}, {key}))"
        )

    def each_key(self, column: str) -> str:
        return f"arrayJoin(JSONExtractKeys({column}))"

    def in_list(self, value: str, items: str) -> str:
        return f"coalesce(has({items}, {value}), false)"

    def contains(self, text: str, part: str) -> str:
        return f"coalesce(positionCaseInsensitiveUTF8({text}, {part}) > 0, false)"

    def regex(self, text: str, pattern: str) -> str:
        # The constant `match('', pattern)` compiles the pattern while the query is planned,
        # so a bad one is refused even when no row reaches the filter (as DuckDB does).
        return f"(coalesce(match({text}, {pattern}), false) AND (match('', {pattern}) OR true))"

    def replace_all(self, text: str, pattern: str, replacement: str) -> str:
        return f"replaceRegexpAll({text}, {pattern}, {replacement})"

    def to_number(self, text: str) -> str:
        return f"toFloat64OrNull({text})"

    def interval(self, unit: Unit, amount: str) -> str:
        return f"toInterval{unit.capitalize()}({amount})"

    def trunc(self, part: str, moment: str) -> str:
        return f"toDateTime64(dateTrunc({part}, {moment}), 6)"

    def arg_min(self, value: str, key: str) -> str:
        return f"argMin({value}, {key})"

    def arg_max(self, value: str, key: str) -> str:
        return f"argMax({value}, {key})"

    def quantile(self, value: str, level: float) -> str:
        return f"quantileExactInclusive({level})({value})"

    def int_div(self, a: str, b: str) -> str:
        return f"intDiv({a}, {b})"

    def epoch_us(self, moment: str) -> str:
        return f"toUnixTimestamp64Micro({moment})"

    def from_epoch_us(self, us: str) -> str:
        return f"fromUnixTimestamp64Micro({us}, 'UTC')"

    def null_text(self) -> str:
        return "CAST(NULL AS Nullable(String))"

    def doubles(self, items: Sequence[str]) -> str:
        return f"CAST([{', '.join(items)}] AS Array(Nullable(Float64)))"

    def rows_of(self, columns: dict[str, str]) -> str:
        lists = ", ".join(columns.values())
        names = ", ".join(f"z.{i + 1} AS {name}" for i, name in enumerate(columns))
        return f"SELECT {names} FROM (SELECT arrayJoin(arrayZip({lists})) AS z)"

    def sorted_list(self, value: str) -> str:
        return f"arraySort(groupArray({value}))"

    def starts_with(self, text: str, prefix: str) -> str:
        return f"startsWith({text}, {prefix})"

    def nullable(self, value: str) -> str:
        return f"toNullable({value})"

    def present(self, value: str) -> str:
        return f"assumeNotNull({value})"

    def pair(self, first: str, second: str) -> str:
        return f"tuple({first}, {second})"

    def first(self, pair: str) -> str:
        return f"tupleElement({pair}, 1)"

    def second(self, pair: str) -> str:
        return f"tupleElement({pair}, 2)"

    def sorted_present(self, items: Sequence[str]) -> str:
        return f"arraySort(arrayFilter(x -> x IS NOT NULL, [{', '.join(items)}]))"

    def bit(self, index: str) -> str:
        return f"bitShiftLeft(toInt64(1), greatest({index}, 0))"

    def or_bits(self, mask: str) -> str:
        return f"groupBitOr({mask})"

    def any_true(self, flag: str) -> str:
        return f"max({flag})"

    def bits_of(self, mask: str, low: str, width: str) -> str:
        return f"(bitAnd(bitShiftRight({mask}, {low}), {width}) <> 0)"

    def has_bit(self, mask: str, index: str) -> str:
        return f"(bitTest({mask}, {index}) = 1)"

    def below(self, mask: str, index: str) -> str:
        return f"bitAnd({mask}, {self.bit(index)} - 1)"

    def lowest_bit(self, mask: str) -> str:
        return f"bitCount(bitAnd({mask}, -{mask}) - 1)"

    def count_bits(self, mask: str) -> str:
        return f"bitCount({mask})"


Dialect = DuckDB
DUCKDB = DuckDB()
CLICKHOUSE = ClickHouse()
DIALECTS: dict[str, Dialect] = {d.name: d for d in (DUCKDB, CLICKHOUSE)}


@dataclasses.dataclass(frozen=True, slots=True)
class Engine:
    """Where a runner sends its SQL: the store's dialect, and what runs a query there."""

    dialect: Dialect
    execute: Callable[[Query], Sequence[Any]]
