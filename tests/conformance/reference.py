"""A plain-Python model of person semantics, written for clarity, to check stores against.

Rules (the documented behaviour):
- a distinct id seen for the first time gets a new, anonymous person;
- `$identify(D, anon=A)` joins A's person to D's: when D is new and A's person is anonymous,
  D simply joins A's person; when A is new it joins D's; when both have persons and A's is
  anonymous, A's person is merged into D's (D's properties win); when A's person is already
  identified, nothing is merged (a shared device). D's person is identified afterwards;
- `$create_alias(D, alias=X)` is the same, except that X's person may be identified, and no
  merge happens only when both persons are identified;
- `$merge_dangerously(D, alias=X)` always merges;
- then `$set_once`, `$set` and `$unset` apply to the event's person, in that order.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class RefPerson:
    ids: set[str]
    props: dict[str, Any]
    identified: bool


@dataclasses.dataclass
class RefEvent:
    distinct_id: str
    event: str = "pageview"
    other: str | None = None
    set_props: dict[str, Any] | None = None
    set_once: dict[str, Any] | None = None
    unset: list[str] | None = None


class RefPersons:
    def __init__(self) -> None:
        self.people: list[RefPerson] = []

    def of(self, distinct_id: str) -> RefPerson | None:
        for person in self.people:
            if distinct_id in person.ids:
                return person
        return None

    def _new(self, distinct_id: str) -> RefPerson:
        person = RefPerson(ids={distinct_id}, props={}, identified=False)
        self.people.append(person)
        return person

    def apply(self, e: RefEvent) -> None:
        mode = {"$identify": "identify", "$create_alias": "alias", "$merge_dangerously": "force"}
        kind = mode.get(e.event)
        if kind and e.other and e.other != e.distinct_id:
            self._link(e.distinct_id, e.other, kind)
        me = self.of(e.distinct_id) or self._new(e.distinct_id)
        if e.event == "$identify":
            me.identified = True
        for key, value in (e.set_once or {}).items():
            me.props.setdefault(key, value)
        me.props.update(e.set_props or {})
        for key in e.unset or []:
            me.props.pop(key, None)

    def _link(self, main: str, other: str, kind: str) -> None:
        theirs = self.of(other)
        mine = self.of(main)
        if mine is None and theirs is not None and (kind != "identify" or not theirs.identified):
            theirs.ids.add(main)
            return
        if mine is None:
            mine = self._new(main)
        if theirs is None:
            mine.ids.add(other)
            return
        if theirs is mine:
            return
        if kind == "identify" and theirs.identified:
            return
        if kind == "alias" and theirs.identified and mine.identified:
            return
        mine.ids |= theirs.ids
        mine.props = {**theirs.props, **mine.props}
        mine.identified = True
        self.people.remove(theirs)
