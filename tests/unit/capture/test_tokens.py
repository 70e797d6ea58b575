"""The capture token cache: one lookup per token at a time, short memory of unknown tokens."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest

from userlens.capture.tokens import NEGATIVE_TTL_S, POSITIVE_TTL_S, TokenCache
from userlens.model.project import Project


def _project(token: str, project_id: int = 7) -> Project:
    return Project(
        id=project_id,
        name="Shop",
        api_token=token,
        timezone="UTC",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


class Lookups:
    """A project table behind a gate: lookups block until the test opens it."""

    def __init__(self, projects: dict[str, Project]) -> None:
        self.projects = projects
        self.calls: list[str] = []
        self.gate = threading.Event()
        self.fail = False

    def __call__(self, token: str) -> Project | None:
        self.calls.append(token)
        answer = self.projects.get(token)  # what the query saw when it ran
        self.gate.wait(10)
        if self.fail:
            raise RuntimeError("database is locked")
        return answer


def test_concurrent_misses_share_one_lookup() -> None:
    lookups = Lookups({"phc_a": _project("phc_a")})
    cache = TokenCache(lookups)

    async def burst() -> list[int | None]:
        calls = [asyncio.ensure_future(cache.project_id("phc_a")) for _ in range(25)]
        await asyncio.sleep(0.05)  # every caller is waiting on the one lookup now
        lookups.gate.set()
        return list(await asyncio.gather(*calls))

    assert asyncio.run(burst()) == [7] * 25
    assert lookups.calls == ["phc_a"]


def test_a_failed_lookup_reaches_every_waiter_and_is_not_cached() -> None:
    lookups = Lookups({"phc_a": _project("phc_a")})
    lookups.fail = True
    cache = TokenCache(lookups)

    async def burst() -> list[BaseException | int | None]:
        calls = [asyncio.ensure_future(cache.project_id("phc_a")) for _ in range(3)]
        await asyncio.sleep(0.05)
        lookups.gate.set()
        return list(await asyncio.gather(*calls, return_exceptions=True))

    results = asyncio.run(burst())
    assert all(isinstance(r, RuntimeError) for r in results)
    assert lookups.calls == ["phc_a"]
    lookups.fail = False
    assert asyncio.run(cache.project_id("phc_a")) == 7
    assert lookups.calls == ["phc_a", "phc_a"]


def test_a_caller_that_goes_away_does_not_cancel_the_others() -> None:
    lookups = Lookups({"phc_a": _project("phc_a")})
    cache = TokenCache(lookups)

    async def scenario() -> int | None:
        leaving = asyncio.ensure_future(cache.project_id("phc_a"))
        staying = asyncio.ensure_future(cache.project_id("phc_a"))
        await asyncio.sleep(0.05)
        leaving.cancel()
        await asyncio.sleep(0.01)
        lookups.gate.set()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        return await staying

    assert asyncio.run(scenario()) == 7
    assert lookups.calls == ["phc_a"]


@pytest.mark.parametrize(("known", "ttl"), [(True, POSITIVE_TTL_S), (False, NEGATIVE_TTL_S)])
def test_answers_are_remembered_for_their_time_to_live(known: bool, ttl: float) -> None:
    lookups = Lookups({"phc_a": _project("phc_a")} if known else {})
    lookups.gate.set()
    now = [1000.0]
    cache = TokenCache(lookups, clock=lambda: now[0])
    expected = 7 if known else None
    assert asyncio.run(cache.project_id("phc_a")) == expected
    now[0] += ttl - 0.001
    assert asyncio.run(cache.project_id("phc_a")) == expected
    assert len(lookups.calls) == 1
    now[0] += 0.002
    assert asyncio.run(cache.project_id("phc_a")) == expected
    assert len(lookups.calls) == 2


def test_forget_drops_an_answer_still_being_looked_up() -> None:
    lookups = Lookups({})
    cache = TokenCache(lookups)

    async def scenario() -> int | None:
        first = asyncio.ensure_future(cache.project_id("phc_new"))
        await asyncio.sleep(0.05)
        # The project is created while the first lookup runs, and the cache is told.
        lookups.projects["phc_new"] = _project("phc_new", 9)
        cache.forget("phc_new")
        lookups.gate.set()
        assert await first is None  # that lookup's own answer stands for its caller
        return await cache.project_id("phc_new")

    assert asyncio.run(scenario()) == 9
    assert lookups.calls == ["phc_new", "phc_new"]
