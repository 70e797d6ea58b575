"""ClickHouse stores for tests. chDB runs one ClickHouse engine per process, on one folder:
every store of a test run lives in that folder, each in a database of its own."""

from __future__ import annotations

import atexit
import itertools
import shutil
import tempfile
from pathlib import Path

from userlens.store.clickhouse import ChdbTransport, ClickHouseEventStore

CHDB_DIR = Path(tempfile.mkdtemp(prefix="userlens-chdb-"))
atexit.register(shutil.rmtree, CHDB_DIR, ignore_errors=True)
_numbers = itertools.count()


def clickhouse_store(database: str | None = None) -> ClickHouseEventStore:
    """The store in `database` (opened again if it exists), or in a new database."""
    return ClickHouseEventStore(ChdbTransport(CHDB_DIR), database or f"t{next(_numbers)}")
