"""Generated event logs for insight conformance tests: a few persons (some merged by
`$identify`), three event names, same-minute events, person properties, over ten days that
span Europe's change to summer time; and how to write one to a store and to the reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from tests.conformance.insights_reference import Ev, set_world
from tests.conformance.reference import RefEvent, RefPerson, RefPersons
from tests.conformance.test_event_store import captured
from userlens.model.event import CapturedEvent
from userlens.model.filters import (
    CohortDefinition,
    CohortFilter,
    DidEvent,
    FilterGroup,
    HasProperty,
)
from userlens.model.ids import STORED
from userlens.model.insight import Operator, PropertyFilter
from userlens.store.events import EventStore

# 2026-03-25: the logs span Europe's change to summer time (29 March).
BASE = datetime(2026, 3, 25, tzinfo=UTC)
NOW = BASE + timedelta(days=10, hours=5)
IDS = ["a", "b", "c", "d"]
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]


@st.composite
def logs(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(1, 40))):
        if draw(st.integers(0, 9)) == 0:
            a, b = draw(st.sampled_from(IDS)), draw(st.sampled_from(IDS))
            out.append({"event": "$identify", "id": a, "other": b, "minute": 0, "props": {}})
            continue
        props: dict[str, Any] = {}
        if draw(st.booleans()):
            props["plan"] = draw(st.sampled_from(["free", "pro", "Pro Max", "team/pro"]))
        person_set = (
            {"tier": draw(st.sampled_from(["gold", "silver", "Gold"]))}
            if draw(st.integers(0, 3)) == 0
            else None
        )
        if draw(st.booleans()):
            props["n"] = draw(st.one_of(st.integers(-5, 50), st.sampled_from([0.5, 2.25, -1.75])))
        out.append(
            {
                "event": draw(st.sampled_from(["view", "click", "buy"])),
                "id": draw(st.sampled_from(IDS)),
                # Minutes over ten days, often the same minute twice, or a minute, five, an
                # hour or two days apart (edges of the time-to-convert histogram's steps).
                "minute": draw(
                    st.one_of(st.integers(0, 14_400), st.sampled_from([0, 1, 5, 60, 600, 2_880]))
                ),
                "session": draw(st.sampled_from([None, "s1", "s2", "s3"])),
                "props": props,
                "set": person_set,
            }
        )
    return out


property_filters = st.one_of(
    st.builds(
        PropertyFilter,
        key=st.just("plan"),
        operator=st.sampled_from(
            [Operator.EXACT, Operator.IS_NOT, Operator.CONTAINS, Operator.NOT_CONTAINS]
        ),
        value=st.sampled_from(["free", "pro", "PRO", "team/"]),
    ),
    st.builds(
        PropertyFilter,
        key=st.sampled_from(["plan", "n", "missing"]),
        operator=st.sampled_from([Operator.IS_SET, Operator.IS_NOT_SET]),
    ),
    st.builds(
        PropertyFilter,
        key=st.just("n"),
        operator=st.sampled_from([Operator.GT, Operator.LT, Operator.EXACT]),
        value=st.integers(-5, 50),
    ),
    st.builds(
        PropertyFilter,
        key=st.sampled_from(["plan", "n"]),
        operator=st.just(Operator.IN),
        value=st.lists(st.sampled_from(["free", "Pro Max", "3", "7"]), min_size=1, max_size=3),
    ),
    st.one_of(
        st.builds(
            PropertyFilter,
            key=st.just("tier"),
            type=st.just("person"),
            operator=st.sampled_from([Operator.EXACT, Operator.IS_NOT, Operator.CONTAINS]),
            value=st.sampled_from(["gold", "silver"]),
        ),
        st.builds(
            PropertyFilter,
            key=st.just("tier"),
            type=st.just("person"),
            operator=st.sampled_from([Operator.IS_SET, Operator.IS_NOT_SET]),
        ),
    ),
    st.builds(
        PropertyFilter,
        key=st.just("plan"),
        operator=st.just(Operator.REGEX),
        value=st.sampled_from(["^pro", "o$", "[a-z]+/"]),
    ),
)


cohort_rules = st.one_of(
    st.builds(
        DidEvent,
        event=st.sampled_from(["view", "click", "buy"]),
        min_count=st.integers(1, 3),
        since=st.sampled_from([NOW - timedelta(days=d) for d in (1, 3, 10)]),
    ),
    st.builds(
        HasProperty,
        filter=st.sampled_from(
            [
                PropertyFilter(key="tier", type="person", value="gold"),
                PropertyFilter(key="tier", type="person", operator=Operator.IS_SET),
            ]
        ),
    ),
)
cohorts = st.builds(
    CohortFilter,
    cohort_id=st.just(1),
    negate=st.booleans(),
    definition=st.one_of(
        # A saved list, which deleting persons may have emptied.
        st.lists(st.sampled_from([*IDS, "nobody"]), max_size=3).map(
            lambda ids: CohortDefinition.model_validate({"distinct_ids": ids}, context=STORED)
        ),
        st.builds(
            CohortDefinition,
            match=st.sampled_from(["all", "any"]),
            rules=st.lists(cohort_rules, min_size=1, max_size=2),
        ),
    ),
)
# Filters of every kind: properties, cohorts, and groups (one level, and one nested).
filters = st.one_of(
    property_filters,
    property_filters,
    cohorts,
    st.builds(
        FilterGroup,
        match=st.sampled_from(["all", "any"]),
        filters=st.lists(
            st.one_of(
                property_filters,
                cohorts,
                st.builds(
                    FilterGroup,
                    match=st.sampled_from(["all", "any"]),
                    filters=st.lists(property_filters, min_size=1, max_size=2),
                ),
            ),
            min_size=1,
            max_size=3,
        ),
    ),
)


@st.composite
def path_logs(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Sessions of pageviews (a few paths, often the same page twice in a row), custom and
    `$`-named events, in minutes that often coincide."""
    out = []
    for _ in range(draw(st.integers(1, 50))):
        if draw(st.integers(0, 14)) == 0:
            a, b = draw(st.sampled_from(IDS)), draw(st.sampled_from(IDS))
            out.append({"event": "$identify", "id": a, "other": b, "minute": 0, "props": {}})
            continue
        event = draw(st.sampled_from(["$pageview", "$pageview", "$pageview", "signup", "$click"]))
        props = {"plan": draw(st.sampled_from(["free", "pro"]))} if draw(st.booleans()) else {}
        out.append(
            {
                "event": event,
                "id": draw(st.sampled_from(IDS)),
                "minute": draw(st.integers(0, 60)) + draw(st.sampled_from([0, 7_000])),
                "session": draw(st.sampled_from([None, "s1", "s2", "s3"])),
                "props": props,
                "set": None,
                "pathname": draw(st.sampled_from(["/", "/a", "/b", "/c", "/p/1", "/p/22/c"]))
                if event == "$pageview"
                else None,
            }
        )
    return out


def _person(people: RefPersons, distinct_id: str) -> RefPerson:
    person = people.of(distinct_id)
    assert person is not None
    return person


def write_log(store: EventStore, log: list[dict[str, Any]]) -> list[Ev]:
    """Write the log to the store; the same events as the reference sees them."""
    people = RefPersons()
    written = []
    for i, item in enumerate(log):
        ts = BASE + timedelta(minutes=item["minute"])
        if item["event"] == "$identify":
            people.apply(RefEvent(item["id"], "$identify", other=item["other"]))
            written.append(
                captured(
                    item["id"],
                    event="$identify",
                    ts_us=int(ts.timestamp() * 1e6) + i,
                    anon_distinct_id=item["other"],
                )
            )
            continue
        people.apply(RefEvent(item["id"], item["event"], set_props=item["set"]))
        written.append(
            captured(
                item["id"],
                event=item["event"],
                ts_us=int(ts.timestamp() * 1e6),
                props=item["props"],
                session_id=item["session"],
                set_props=item["set"],
                pathname=item.get("pathname"),
            )
        )
    store.write(written)
    events = events_of(people, written, log)
    set_world(events)
    return events


def events_of(
    people: RefPersons, written: list[CapturedEvent], log: list[dict[str, Any]]
) -> list[Ev]:
    """The written events as the reference sees them, with persons after every merge."""

    def person_number(distinct_id: str) -> int:
        return id(_person(people, distinct_id))

    return [
        Ev(
            event=c.event,
            timestamp=datetime.fromtimestamp(c.timestamp_us / 1e6, tz=UTC),
            person=person_number(c.distinct_id),
            distinct_ids=frozenset(_person(people, c.distinct_id).ids),
            session_id=c.session_id,
            properties=item["props"],
            person_properties=_person(people, c.distinct_id).props,
            pathname=c.pathname,
            uuid=c.uuid,
        )
        for c, item in zip(written, log, strict=True)
    ]
