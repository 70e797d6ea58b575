"""The server runs on its own dependencies: with every package that only the tests install
(numpy, pandas, hypothesis…) made unimportable, a demo goes through capture, the write-ahead
log, the loader, persons, recordings and an insight. The test environment has those
packages, so without this a server path that needs one passes every other test and fails in
a fresh `make run`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import importlib.abc
import sys

BLOCKED = set(sys.argv[1].split(","))


class TestOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (a test-only package)")
        return None


sys.meta_path.insert(0, TestOnly())

from datetime import UTC, datetime

from userlens.cli.demo import run_demo
from userlens.config import load_settings
from userlens.model.insight import TrendsQuery, TrendsSeries
from userlens.query.run import engine_of, run
from userlens.store.duckdb import DuckDBEventStore

settings = load_settings(env={}, data_dir=sys.argv[2])
now = datetime.now(UTC)
run_demo(settings, project_id=None, persons=40, days=7, seed=3, url=sys.argv[3], now=now)
store = DuckDBEventStore(settings.events_db_path)
trend = TrendsQuery(series=[TrendsSeries(event="$pageview")])
answer = run(trend, "UTC", now, engine_of(store, 1))
print("stored", store.count_events(1), "viewed", int(answer.series[0].total))
"""


def _names(lock: Path) -> set[str]:
    names = set()
    for line in lock.read_text().splitlines():
        found = re.match(r"([A-Za-z0-9_.-]+)==", line)
        if found:
            names.add(found.group(1).lower().replace("-", "_"))
    return names


def test_the_server_needs_no_package_that_only_the_tests_install(tmp_path: Path) -> None:
    test_only = _names(ROOT / "requirements/dev.lock") - _names(ROOT / "requirements/run.lock")
    assert {"numpy", "pandas", "hypothesis"} <= test_only
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            ",".join(sorted(test_only)),
            str(tmp_path / "data"),
            f"http://127.0.0.1:{free_port()}",  # nobody listens: the demo runs the app itself
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = re.search(r"stored (\d+) viewed (\d+)", done.stdout)
    assert found, done.stdout
    stored, viewed = int(found.group(1)), int(found.group(2))
    sent = re.search(r"Sent (\d+) events", done.stdout)
    assert sent and stored == int(sent.group(1)) > 0
    assert viewed > 0
    assert re.search(r"recordings of [1-9]\d* sessions", done.stdout)
