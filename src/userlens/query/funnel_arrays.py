"""Funnel attempts with array functions, for engines that fold a person's events faster in
arrays than through joins (ClickHouse: `Dialect.funnel_arrays`). Same counting rule as the
joins of `funnels.py` (see `model/funnel.py`); the conformance suite holds both to the
reference.

`ev` gives one row per event with `ts` (microseconds since the range's start, plus one, so
that 0 can mean "not reached"), `flags` (bit i: step i matches; bit n + j: exclusion j) and
`bv` (the breakdown value). One aggregation per person collects sorted arrays of times: the
attempts' starts (`c0`, with a breakdown in value order among equal times, non-NULL first,
so that of two attempts starting together the first has the smallest value), each step's
events (`T{k}`), each exclusion's (`X{j}`) and, for strict order, every event's (`every`).

Each attempt's next step is then looked up for all attempts at once, by `_next`: the
attempts' times and the step's times are merged into one sorted array, and each attempt takes
the next step time after it (`arrayReverseFill`). That costs a sort per person and step,
whatever the number of attempts; a lookup per attempt over the person's events
(`arrayMap` around `arrayFirst`) would copy the events once per attempt, which a person with
thousands of events cannot afford. The merge needs the attempts' times in order; they are,
because each attempt's candidate for step k (`c{k}`: the first step-k event after its
candidate for step k - 1, ignoring the window) is never earlier than the one before's.
Whether the step was reached is decided afterwards: `c{k}` inside the window (and, for strict
order, every step so far at the person's very next moment).

Lookups that depend on one another sit in nested subqueries, one per step: as aliases in one
SELECT, the engine would expand each into the next and the query tree would double per step.

The result is `best`: one row per person with `bv`, `t0`…`t{n-1}` (microseconds, NULL when
not reached), `steps` and, for the persons behind a step, `s0`…`s{n-1}` (the sessions, looked
up for the counted attempt only), as the join plan's `best` but with times as integers.
"""

from __future__ import annotations

from userlens.model.funnel import FunnelOrder, FunnelQuery

# "No such event": later than any time (packed with a kind bit below, it still fits an Int64).
NONE = 1 << 61


def _next(name: str, after: str, times: str, *, strictly: bool) -> str:
    """`name`: for each time in the sorted `after`, the first of the sorted `times` later
    than it (`strictly`) or at the same time or later; `NONE` when there is none.

    Both are merged into one sorted array of `time * 2 + kind`: the kind bit puts a step time
    before an attempt time at the same moment when the step must be strictly later, and after
    it otherwise. Filling every attempt slot backwards from the next step slot, then keeping
    the attempt slots, gives each attempt its step time in the order of `after`."""
    mine, theirs = (1, 0) if strictly else (0, 1)
    merged = (
        f"arraySort(arrayConcat(arrayMap(u -> u * 2 + {mine}, {after}), "
        f"arrayMap(u -> u * 2 + {theirs}, {times})))"
    )
    filled = f"arrayReverseFill(u -> bitAnd(u, 1) = {theirs}, m_{name})"
    return (
        f"{merged} AS m_{name}, arrayMap(u -> if(bitAnd(u, 1) = {theirs}, intDiv(u, 2), {NONE}), "
        f"arrayFilter((u, w) -> bitAnd(w, 1) = {mine}, {filled}, m_{name})) AS {name}"
    )


def _stage(inner: str, columns: list[str]) -> str:
    return f"SELECT *, {', '.join(columns)} FROM ({inner})"


def best(spec: FunnelQuery, window: str, sessions: bool = False) -> str:
    """The `best` CTE from `ev`; `window` is the bound window in microseconds. With
    `sessions` (`ev` has `sid`), each step's session too (`s{k}`): the attempt's own for its
    start, and for a later step the smallest of the person's sessions among that step's
    events at its time (non-NULL first, as the join plan's `min`). Unordered, the steps'
    (time, session) pairs are sorted as the join plan sorts them, a missing session first."""
    n = len(spec.steps)
    line = bool(spec.breakdown)
    unordered = spec.order is FunnelOrder.UNORDERED
    strict = spec.order is FunnelOrder.STRICT
    is_start = f"bitAnd(flags, {(1 << n) - 1}) != 0" if unordered else "bitTest(flags, 0)"
    # A start: its time, then (for ties) its breakdown value and session, non-NULL first.
    item = [
        "ts",
        *(["isNull(bv)", "bv"] if line else []),
        *(["isNull(sid)", "sid"] if sessions else []),
    ]
    if len(item) == 1:
        collected = [f"arraySort(groupArrayIf(ts, {is_start})) AS c0"]
    else:
        collected = [
            f"arraySort(groupArrayIf(({', '.join(item)}), {is_start})) AS s",
            "arrayMap(u -> u.1, s) AS c0",
        ]
        if line:
            collected.append(f"arrayMap(u -> u.{item.index('bv') + 1}, s) AS bvs")
        if sessions:
            collected.append(f"arrayMap(u -> u.{item.index('sid') + 1}, s) AS sids")
    collected += [
        f"arraySort(groupArrayIf(ts, bitTest(flags, {k}))) AS T{k}"
        for k in range(0 if unordered else 1, n)
    ]
    if sessions:
        collected += [
            f"arraySort(groupArrayIf((ts, isNull(sid), sid), bitTest(flags, {k}))) AS S{k}"
            for k in range(0 if unordered else 1, n)
        ]
    collected += [
        f"arraySort(groupArrayIf(ts, bitTest(flags, {n + j}))) AS X{j}"
        for j in range(len(spec.exclusions))
    ]
    if strict:
        collected.append("arraySort(groupArray(ts)) AS every")
    query = f"SELECT person, {', '.join(collected)} FROM ev GROUP BY person HAVING notEmpty(c0)"

    within = f"y <= u0 + {window}"
    if unordered:
        # Each step's first event from the attempt's start on (`f{i}`); the attempt's k-th
        # step is the k-th of those inside its window, in time order.
        query = _stage(query, [_next(f"f{i}", "c0", f"T{i}", strictly=False) for i in range(n)])
        ys = [f"y{i}" for i in range(n)]
        found = (
            f"arrayMap((u0, {', '.join(ys)}) -> arraySort(arrayFilter(y -> {within}, "
            f"[{', '.join(ys)}])), c0, {', '.join(f'f{i}' for i in range(n))}) AS rs"
        )
        times = [found, *(f"arrayMap(r -> r[{k + 1}], rs) AS t{k}s" for k in range(1, n))]
    else:
        times = []
        for k in range(1, n):
            if strict:
                # The person's next moment after step k - 1 (`c{k}`), and the first step-k
                # event from then on (`g{k}`): the step is reached there when they are equal.
                query = _stage(query, [_next(f"c{k}", f"c{k - 1}", "every", strictly=True)])
                agree = "y = z" if k == 1 else "a AND y = z"
                before = "" if k == 1 else f"ok{k - 1}, "
                query = _stage(
                    query,
                    [
                        _next(f"g{k}", f"c{k}", f"T{k}", strictly=False),
                        f"arrayMap(({'a, ' if k > 1 else ''}y, z) -> {agree}, "
                        f"{before}c{k}, g{k}) AS ok{k}",
                    ],
                )
                times.append(f"arrayMap((u0, y, z) -> if(z AND {within}, y, 0), c0, c{k}, ok{k})")
            else:
                query = _stage(query, [_next(f"c{k}", f"c{k - 1}", f"T{k}", strictly=True)])
                times.append(f"arrayMap((u0, y) -> if({within}, y, 0), c0, c{k})")
        times = [f"{t} AS t{k + 1}s" for k, t in enumerate(times)]
        if spec.exclusions:
            # The first event of each exclusion after its from-step's candidate (`e{j}`).
            query = _stage(
                query,
                [
                    _next(f"e{j}", f"c{x.from_step}", f"X{j}", strictly=True)
                    for j, x in enumerate(spec.exclusions)
                ],
            )
    params = [f"u{i}" for i in range(n)] + [f"v{j}" for j in range(len(spec.exclusions))]
    broken = [
        f"(u{x.from_step} != 0 AND v{j} != {NONE} AND "
        f"if(u{x.to_step} != 0, v{j} < u{x.to_step}, v{j} <= u0 + {window}))"
        for j, x in enumerate(spec.exclusions)
    ]
    reached = " + ".join(["1", *(f"(u{i} != 0)" for i in range(1, n))])
    counted = f"if({' OR '.join(broken)}, 0, {reached})" if broken else reached
    arrays = ["c0", *(f"t{i}s" for i in range(1, n))]
    arrays += [f"e{j}" for j in range(len(spec.exclusions))]
    query = _stage(
        query,
        [
            *times,
            f"arrayMap(({', '.join(params)}) -> {counted}, {', '.join(arrays)}) AS ns",
            "indexOf(ns, arrayMax(ns)) AS b",
        ],
    )
    picked = ", ".join(["c0[b] AS t0", *(f"nullIf(t{i}s[b], 0) AS t{i}" for i in range(1, n))])
    if sessions and unordered:
        # Each step reached: (its time, its session or ''), sorted; the k-th gives s{k}.
        pairs = ", ".join(
            f"(f{i}[b], ifNull(arrayFirst(u -> u.1 = f{i}[b], S{i}).3, ''))" for i in range(n)
        )
        picked += (
            f", arraySort(arrayFilter(u -> u.1 <= c0[b] + {window}, [{pairs}])) AS pairs, "
            + ", ".join(f"nullIf(pairs[{i + 1}].2, '') AS s{i}" for i in range(n))
        )
    elif sessions:
        # A step not reached (time 0) finds no event: the default tuple, a NULL session.
        picked += ", sids[b] AS s0, " + ", ".join(
            f"arrayFirst(u -> u.1 = t{i}s[b], S{i}).3 AS s{i}" for i in range(1, n)
        )
    bv = "bvs[b]" if line else "CAST(NULL AS Nullable(String))"
    return (
        f"best AS MATERIALIZED (SELECT person, {bv} AS bv, {picked}, ns[b] AS steps "
        f"FROM ({query}) WHERE ns[b] > 0)"
    )
