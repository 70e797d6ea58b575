"""Event names, property names and values for pickers, against plain counting, per backend."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conformance.conftest import StoreFactory
from tests.conformance.insight_logs import cohorts, logs, write_log
from tests.conformance.insight_logs import filters as any_filter
from tests.conformance.insights_reference import in_cohort, matches
from tests.conformance.test_event_store import PROJECT as LOG_PROJECT
from userlens.model.event import CapturedEvent, EventCursor, EventFilter
from userlens.model.filters import CohortFilter, Filter
from userlens.query import catalog
from userlens.query.run import engine_of

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
PROJECT = 3

names = st.sampled_from(["$pageview", "signup", "buy", "$autocapture"])
props = st.dictionaries(
    st.sampled_from(["plan", "$browser", "amount", "a/b", "ü"]),
    st.one_of(st.sampled_from(["free", "pro", "x y"]), st.integers(-3, 3), st.booleans()),
    max_size=3,
)


def _seen(
    i: int, who: str, ts_us: int, set_props: dict[str, object] | None = None
) -> CapturedEvent:
    """The `i`-th event of a log: `who` was seen then (and given `set_props`)."""
    return CapturedEvent(
        project_id=PROJECT,
        uuid=f"00000000-0000-4000-8000-{i:012d}",
        event="seen",
        distinct_id=who,
        timestamp_us=ts_us,
        received_at_us=ts_us,
        properties_json="{}",
        set_props=set_props,
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(log=st.lists(st.tuples(names, props, st.integers(0, 40 * 24)), min_size=1, max_size=30))
def test_the_catalog_counts_what_was_sent(
    make_store: StoreFactory, log: list[tuple[str, dict[str, object], int]]
) -> None:
    store = make_store()
    events = []
    for i, (name, properties, hours_ago) in enumerate(log):
        at = NOW - timedelta(hours=hours_ago)
        events.append(
            CapturedEvent(
                project_id=PROJECT,
                uuid=f"00000000-0000-4000-8000-{i:012d}",
                event=name,
                distinct_id=f"d{i % 4}",
                timestamp_us=int(at.timestamp() * 1e6),
                received_at_us=int(at.timestamp() * 1e6),
                properties_json=orjson.dumps(properties).decode(),
            )
        )
    store.write(events)
    recent = [(n, p) for n, p, h in log if h <= 30 * 24]
    engine = engine_of(store, PROJECT)

    want_names = Counter(n for n, _ in recent)
    got = catalog.event_names(engine, NOW)
    assert {s.name: s.count for s in got} == dict(want_names)
    assert [s.count for s in got] == sorted((s.count for s in got), reverse=True)

    want_keys = Counter(k for _, p in recent for k in p)
    got_keys = catalog.property_names(engine, NOW, "event")
    assert {s.name: s.count for s in got_keys} == dict(want_keys)

    def text(v: object) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else str(v)

    want_plans = Counter(text(p["plan"]) for _, p in recent if "plan" in p)
    got_plans = catalog.property_values(engine, NOW, "event", "plan")
    assert {s.name: s.count for s in got_plans} == dict(want_plans)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    people=st.dictionaries(
        st.sampled_from(["ana", "Ben", "cleo", "ANAbel", "dev"]),
        st.sampled_from(["", "pro", "Pro plan", "free"]),
        min_size=1,
    ),
    text=st.sampled_from(["", "an", "PRO", "plan", "zz", "Ben"]),
)
def test_person_search_matches_ids_and_properties(
    make_store: StoreFactory, people: dict[str, str], text: str
) -> None:
    store = make_store()
    store.write(
        [
            _seen(i, who, int(NOW.timestamp() * 1e6) + i, {"plan": plan} if plan else None)
            for i, (who, plan) in enumerate(people.items())
        ]
    )
    found = catalog.search_persons(engine_of(store, PROJECT), text)
    want = {
        who
        for who, plan in people.items()
        if text.lower() in who.lower()
        or (plan and text.lower() in f'{{"plan":"{plan}"}}'.lower())
        or (not plan and text.lower() in "{}")
    }
    assert {p.distinct_ids[0] for p in found} == want


texts = st.sampled_from([None, "", "  ", "ana@acme.example", " Ben Okafor ", "ü"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(people=st.dictionaries(st.sampled_from("abcdef"), st.tuples(texts, texts), min_size=1))
def test_persons_are_named_by_email_then_name(
    make_store: StoreFactory, people: dict[str, tuple[str | None, str | None]]
) -> None:
    store = make_store()
    start = int(NOW.timestamp() * 1e6)
    store.write(
        [
            _seen(
                i,
                who,
                start + i,
                {k: v for k, v in (("email", email), ("name", name)) if v is not None} or None,
            )
            for i, (who, (email, name)) in enumerate(people.items())
        ]
    )
    ids = {}
    for who in people:
        person = store.person(PROJECT, who)
        assert person is not None
        ids[who] = person.id
    unknown = "00000000-0000-4000-8000-000000000000"
    got = catalog.person_names(engine_of(store, PROJECT), [*ids.values(), unknown])

    def named(email: str | None, name: str | None) -> str | None:
        for text in (email, name):
            if text is not None and text.strip():
                return text.strip()
        return None

    want = {ids[who]: named(*texts) for who, texts in people.items()}
    assert got == {pid: name for pid, name in want.items() if name is not None}
    assert catalog.person_names(engine_of(store, PROJECT), []) == {}
    # Another project's engine finds none of them.
    assert catalog.person_names(engine_of(store, PROJECT + 1), list(ids.values())) == {}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    # Each person's first event, minutes after a start: equal minutes make equal first-seen
    # times, which the id orders.
    firsts=st.dictionaries(st.sampled_from("abcdefghij"), st.integers(0, 3), min_size=1),
    size=st.integers(1, 4),
)
def test_person_pages_follow_one_another_newest_first(
    make_store: StoreFactory, firsts: dict[str, int], size: int
) -> None:
    store = make_store()
    start = int(NOW.timestamp() * 1e6)
    store.write(
        [
            _seen(i, who, start + minute * 60_000_000)
            for i, (who, minute) in enumerate(firsts.items())
        ]
    )
    engine = engine_of(store, PROJECT)
    everyone = catalog.search_persons(engine, "", limit=100)
    # The reference order: latest first event first, then the person id.
    want = sorted(everyone, key=lambda p: (-firsts[p.distinct_ids[0]], p.id))
    assert [p.id for p in everyone] == [p.id for p in want]
    assert len(everyone) == len(firsts)

    pages = [
        catalog.search_persons(engine, "", limit=size, offset=at)
        for at in range(0, len(firsts) + size, size)
    ]
    assert all(len(page) <= size for page in pages)
    assert [p.id for page in pages for p in page] == [p.id for p in want]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(log=logs(), cohort=cohorts, limit=st.integers(1, 5))
def test_a_cohorts_members_are_the_persons_the_reference_puts_in_it(
    make_store: StoreFactory, log: list[dict[str, Any]], cohort: CohortFilter, limit: int
) -> None:
    store = make_store()
    events = write_log(store, log)
    want = {frozenset(e.distinct_ids) for e in events if in_cohort(cohort, e)}

    found = catalog.cohort_members(engine_of(store, LOG_PROJECT), cohort, limit)

    assert found.count == len(want)
    assert len(found.persons) == min(limit, len(want))
    assert {frozenset(p.distinct_ids) for p in found.persons} <= want
    assert [p.created_at for p in found.persons] == sorted(
        (p.created_at for p in found.persons), reverse=True
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    log=logs(),
    filters=st.lists(any_filter, max_size=2),
    event=st.sampled_from([None, "view", "buy"]),
    size=st.integers(1, 4),
)
def test_events_that_pass_filters_page_newest_first(
    make_store: StoreFactory,
    log: list[dict[str, Any]],
    filters: list[Filter],
    event: str | None,
    size: int,
) -> None:
    store = make_store()
    events = write_log(store, log)
    found: list[str] = []
    cursor: EventCursor | None = None
    for _ in range(len(events) + 1):
        page = catalog.events_page(
            store,
            LOG_PROJECT,
            EventFilter(event=event),
            filters,
            limit=size,
            cursor=cursor,
        )
        assert len(page.events) <= size
        found.extend(e.uuid for e in page.events)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    # The reference: every event of that name passing every filter (properties, cohorts and
    # groups of them), newest first, then by uuid, as the stores list events.
    passing = [
        e
        for e in events
        if (event is None or e.event == event) and all(matches(f, e) for f in filters)
    ]
    passing.sort(key=lambda e: (e.timestamp, e.uuid), reverse=True)
    assert found == [e.uuid for e in passing]
