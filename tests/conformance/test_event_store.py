"""One suite for every `EventStore` backend: writes, dedup, reads, pagination and persons."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conformance.conftest import StoreFactory
from tests.conformance.reference import RefEvent, RefPersons
from userlens.model.event import CapturedEvent, EventCursor, EventFilter, StoredEvent
from userlens.store.events import EventStore

T0_US = 1_790_000_000_000_000
PROJECT = 7


def captured(
    distinct_id: str,
    *,
    event: str = "pageview",
    ts_us: int = T0_US,
    project_id: int = PROJECT,
    uid: str | None = None,
    props: dict[str, Any] | None = None,
    **extra: Any,
) -> CapturedEvent:
    return CapturedEvent(
        project_id=project_id,
        uuid=uid or str(uuid.uuid4()),
        event=event,
        distinct_id=distinct_id,
        timestamp_us=ts_us,
        received_at_us=ts_us,
        properties_json=orjson.dumps(props or {}).decode(),
        **extra,
    )


def from_ref(e: RefEvent, ts_us: int) -> CapturedEvent:
    return captured(
        e.distinct_id,
        event=e.event,
        ts_us=ts_us,
        set_props=e.set_props,
        set_once_props=e.set_once,
        unset_props=e.unset,
        anon_distinct_id=e.other if e.event == "$identify" else None,
        alias=e.other if e.event in ("$create_alias", "$merge_dangerously") else None,
    )


def all_events(store: EventStore, project_id: int = PROJECT, **filters: Any) -> list[StoredEvent]:
    out: list[StoredEvent] = []
    cursor: EventCursor | None = None
    while True:
        page = store.events(project_id, EventFilter(**filters), limit=7, cursor=cursor)
        out.extend(page.events)
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def test_write_then_read_round_trips_every_column(make_store: StoreFactory) -> None:
    store = make_store()
    e = captured(
        "u1",
        event="$pageview",
        props={"n": 1, "nested": {"a": [1, 2]}},
        session_id="s1",
        window_id="w1",
        current_url="https://x.test/a?b=1",
        pathname="/a",
        referrer="https://r.test/",
        referring_domain="r.test",
        browser="Chrome",
        browser_version="120.0",
        os="Mac OS X",
        os_version="14.1",
        device_type="Desktop",
        country="GB",
        lib="web",
        lib_version="1.0",
    )
    result = store.write([e])
    assert result.inserted == 1
    [got] = all_events(store)
    assert got.uuid == e.uuid
    assert got.timestamp == datetime.fromtimestamp(T0_US / 1e6, tz=UTC)
    assert got.properties == {"n": 1, "nested": {"a": [1, 2]}}
    for column in (
        "session_id",
        "window_id",
        "current_url",
        "pathname",
        "referrer",
        "referring_domain",
        "browser",
        "browser_version",
        "os",
        "os_version",
        "device_type",
        "country",
        "lib",
        "lib_version",
    ):
        assert getattr(got, column) == getattr(e, column), column
    assert got.person_id is not None


def test_duplicate_uuids_are_stored_once(make_store: StoreFactory) -> None:
    store = make_store()
    uid = str(uuid.uuid4())
    first = store.write([captured("u1", uid=uid), captured("u1", uid=uid)])
    again = store.write([captured("u1", uid=uid, event="changed")])
    assert (first.inserted, again.inserted) == (1, 0)
    assert [e.event for e in all_events(store)] == ["pageview"]
    # The same uuid in another project is another event.
    store.write([captured("u1", uid=uid, project_id=PROJECT + 1)])
    assert len(all_events(store, PROJECT + 1)) == 1


def test_projects_never_see_each_others_events(make_store: StoreFactory) -> None:
    store = make_store()
    store.write([captured("a", project_id=1), captured("a", project_id=2, event="other")])
    assert [e.event for e in all_events(store, 1)] == ["pageview"]
    assert [e.event for e in all_events(store, 2)] == ["other"]
    assert store.count_events(1) == 1
    # Persons are per project too: same distinct id, different people.
    one, two = store.person(1, "a"), store.person(2, "a")
    assert one is not None and two is not None and one.id != two.id


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sent=st.lists(
        st.tuples(st.sampled_from([1, 2]), st.sampled_from(["a", "b", "c"]), st.booleans()),
        min_size=1,
        max_size=12,
    )
)
def test_deleting_a_project_removes_its_data_and_nothing_else(
    make_store: StoreFactory, sent: list[tuple[int, str, bool]]
) -> None:
    """(project, distinct id, identify as "user-<id>") per event; project 1 is deleted."""
    store = make_store()
    store.write(
        [
            captured(
                who,
                project_id=project,
                ts_us=T0_US + i,
                event="$identify" if identify else "pageview",
                anon_distinct_id=f"user-{who}" if identify else None,
                set_props={"plan": "pro"},
            )
            for i, (project, who, identify) in enumerate(sent)
        ]
    )
    kept_before = all_events(store, 2)
    persons_kept = {who: store.person(2, who) for _, who, _ in sent}
    version = store.data_version(1)
    planned = []
    done = store.delete_project(1, before_commit=planned.append)
    assert planned == [done]
    assert done.events == sum(1 for project, _, _ in sent if project == 1)
    # One person per distinct id, fewer where an identify joined two ids into one.
    joined = {who for project, who, identify in sent if project == 1}
    assert 0 < done.persons <= len(joined) if joined else done.persons == 0
    assert all_events(store, 1) == [] and store.count_events(1) == 0
    assert all(store.person(1, who) is None for who in ("a", "b", "c", "user-a", "user-b"))
    assert store.data_version(1) != version
    # The other project is as it was.
    assert all_events(store, 2) == kept_before
    assert {who: store.person(2, who) for _, who, _ in sent} == persons_kept
    # A project with nothing left deletes as nothing; it can take events again.
    again = store.delete_project(1, before_commit=lambda _plan: None)
    assert (again.events, again.persons) == (0, 0)
    store.write([captured("a", project_id=1, event="after")])
    assert [e.event for e in all_events(store, 1)] == ["after"]
    fresh = store.person(1, "a")
    assert fresh is not None and fresh.properties == {}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    stamps=st.lists(st.integers(0, 50), min_size=1, max_size=40),
    names=st.lists(st.sampled_from(["a", "b", "c"]), min_size=40, max_size=40),
    limit=st.integers(1, 9),
    window=st.tuples(st.integers(0, 50), st.integers(1, 30)),
)
def test_pagination_and_filters_match_a_plain_sort(
    make_store: StoreFactory,
    stamps: list[int],
    names: list[str],
    limit: int,
    window: tuple[int, int],
) -> None:
    store = make_store()
    events = [
        captured(f"d{i % 3}", event=names[i], ts_us=T0_US + s * 1_000_000, session_id=f"s{i % 2}")
        for i, s in enumerate(stamps)
    ]
    store.write(events)
    start = datetime.fromtimestamp(T0_US / 1e6 + window[0], tz=UTC)
    end = start + timedelta(seconds=window[1])
    expected = sorted(
        (
            e
            for e in events
            if e.event == "a"
            and e.session_id == "s1"
            and start <= datetime.fromtimestamp(e.timestamp_us / 1e6, tz=UTC) < end
        ),
        key=lambda e: (e.timestamp_us, e.uuid),
        reverse=True,
    )
    got: list[StoredEvent] = []
    cursor: EventCursor | None = None
    pages = 0
    while True:
        page = store.events(
            PROJECT,
            EventFilter(event="a", session_id="s1", after=start, before=end),
            limit=limit,
            cursor=cursor,
        )
        assert len(page.events) <= limit
        got.extend(page.events)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [e.uuid for e in got] == [e.uuid for e in expected]
    assert pages <= len(expected) // limit + 1


ids = st.sampled_from(["anon1", "anon2", "anon3", "user1", "user2", "x"])
props = st.dictionaries(st.sampled_from(["plan", "email", "age"]), st.integers(0, 3), max_size=2)
ref_events = st.builds(
    RefEvent,
    distinct_id=ids,
    event=st.sampled_from(["pageview", "$identify", "$create_alias", "$merge_dangerously", "$set"]),
    other=st.one_of(st.none(), ids),
    set_props=st.one_of(st.none(), props),
    set_once=st.one_of(st.none(), props),
    unset=st.one_of(st.none(), st.lists(st.sampled_from(["plan", "email", "age"]), max_size=1)),
)


def _split(events: Sequence[CapturedEvent], cuts: list[int]) -> list[list[CapturedEvent]]:
    bounds = sorted({0, len(events), *(c % (len(events) + 1) for c in cuts)})
    return [list(events[a:b]) for a, b in itertools.pairwise(bounds) if b > a]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    log=st.lists(ref_events, min_size=1, max_size=25), cuts=st.lists(st.integers(0, 30), max_size=4)
)
def test_persons_match_the_reference_model(
    make_store: StoreFactory, log: list[RefEvent], cuts: list[int]
) -> None:
    """Identify/alias merges and property updates, split into random write batches."""
    store = make_store()
    reference = RefPersons()
    for e in log:
        reference.apply(e)
    events = [from_ref(e, T0_US + i * 1000) for i, e in enumerate(log)]
    for batch in _split(events, cuts):
        store.write(batch)

    seen = {e.distinct_id for e in log} | {
        e.other for e in log if e.other and e.event.startswith("$") and e.event != "$set"
    }
    for distinct_id in sorted(seen):
        want = reference.of(distinct_id)
        got = store.person(PROJECT, distinct_id)
        assert want is not None and got is not None, distinct_id
        assert set(got.distinct_ids) == want.ids, distinct_id
        assert got.properties == want.props, distinct_id
        assert got.is_identified == want.identified, distinct_id

    # Every stored event now resolves to its distinct id's current person.
    for stored in all_events(store):
        person = store.person(PROJECT, stored.distinct_id)
        assert person is not None and stored.person_id == person.id

    # A person's events are those of every distinct id merged into them.
    for distinct_id in sorted(seen):
        person = store.person(PROJECT, distinct_id)
        merged = reference.of(distinct_id)
        assert person is not None and merged is not None
        theirs = {e.uuid for e in events if e.distinct_id in merged.ids}
        assert {e.uuid for e in all_events(store, person_id=person.id)} == theirs, distinct_id


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    log=st.lists(ref_events, min_size=1, max_size=15),
    cuts=st.lists(st.integers(0, 20), max_size=3),
    again=st.integers(0, 3),
)
def test_a_batch_written_again_changes_nothing(
    make_store: StoreFactory, log: list[RefEvent], cuts: list[int], again: int
) -> None:
    """After a crash, the write-ahead log writes again every batch since its checkpoint (the
    last of them perhaps half-stored): persons and events end as if each was written once."""
    once, twice = make_store(), make_store()
    events = [from_ref(e, T0_US + i * 1000) for i, e in enumerate(log)]
    batches = _split(events, cuts)
    for store in (once, twice):
        for batch in batches:
            store.write(batch)
    for batch in batches[len(batches) - again % (len(batches) + 1) :]:
        twice.write(batch)
    assert [(e.uuid, e.person_id) for e in all_events(twice)] == [
        (e.uuid, e.person_id) for e in all_events(once)
    ]
    for distinct_id in {e.distinct_id for e in log}:
        assert twice.person(PROJECT, distinct_id) == once.person(PROJECT, distinct_id)


def test_a_merged_batch_written_again_keeps_the_merged_properties(
    make_store: StoreFactory,
) -> None:
    """Written once, the identify keeps the identified person's `plan`; written again, the
    anonymous id already belongs to that person, and its `$set` must not be applied again."""
    store = make_store()
    batch = [
        captured("user", ts_us=T0_US, set_props={"plan": "pro"}),
        captured("anon", ts_us=T0_US + 1, set_props={"plan": "free"}),
        captured("user", event="$identify", ts_us=T0_US + 2, anon_distinct_id="anon"),
    ]
    store.write(batch)
    once = store.person(PROJECT, "anon")
    assert once is not None and once.properties == {"plan": "pro"}
    result = store.write(batch)
    assert result.inserted == 0
    assert store.person(PROJECT, "anon") == once == store.person(PROJECT, "user")


def test_an_event_sent_again_later_does_not_undo_newer_properties(
    make_store: StoreFactory,
) -> None:
    """An SDK that retries a request whose answer it lost sends the same uuids again: the old
    `$set` must not overwrite what came after it, and the batch's new events still count."""
    store = make_store()
    first = captured("ann", set_props={"plan": "free"})
    store.write([first])
    store.write([captured("ann", ts_us=T0_US + 10, set_props={"plan": "pro"})])
    retry = captured("ann", ts_us=T0_US, uid=first.uuid, set_props={"plan": "free"})
    new = captured("ann", ts_us=T0_US + 20, set_once_props={"source": "ad"})
    result = store.write([retry, new])
    assert result.inserted == 1
    person = store.person(PROJECT, "ann")
    assert person is not None and person.properties == {"plan": "pro", "source": "ad"}
    assert [e.uuid for e in all_events(store)].count(first.uuid) == 1


def test_merge_keeps_earliest_creation_and_target_properties(make_store: StoreFactory) -> None:
    store = make_store()
    store.write([captured("anon", ts_us=T0_US, set_props={"plan": "free", "ref": "ad"})])
    store.write([captured("user", ts_us=T0_US + 10**6, set_props={"plan": "pro"})])
    store.write(
        [captured("user", event="$identify", ts_us=T0_US + 2 * 10**6, anon_distinct_id="anon")]
    )
    person = store.person(PROJECT, "anon")
    assert person is not None
    assert set(person.distinct_ids) == {"anon", "user"}
    assert person.properties == {"plan": "pro", "ref": "ad"}
    assert person.created_at == datetime.fromtimestamp(T0_US / 1e6, tz=UTC)


def test_state_survives_reopening(make_file_store: StoreFactory) -> None:
    store = make_file_store()
    store.write([captured("anon", set_once_props={"first": 1})])
    store.write([captured("user", event="$identify", anon_distinct_id="anon")])
    store.close()
    store = make_file_store()
    try:
        person = store.person(PROJECT, "user")
        assert person is not None and set(person.distinct_ids) == {"anon", "user"}
        assert person.properties == {"first": 1}
        assert store.count_events(PROJECT) == 2
    finally:
        store.close()
