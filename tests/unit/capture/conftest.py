"""Fixtures of the capture tests: one in-process env per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Env
from tests.unit.capture.support import build_env, close_env


@pytest.fixture(scope="module")
def shared_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """An env shared by the tests of a module; tests keep apart by fresh distinct ids."""
    env = build_env(tmp_path_factory.mktemp("capture") / "data")
    yield env
    close_env(env)
