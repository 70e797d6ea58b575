"""Arrow tables shown to DuckDB's SQL for one statement."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb
import pyarrow as pa


@contextlib.contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> Iterator[None]:
    """`table` visible to SQL as `name` for the block.

    After a statement fails inside a transaction, DuckDB refuses everything but ROLLBACK, the
    unregistering too: that refusal must not hide the statement's own error, which is the one
    the caller (and the log) needs to see.
    """
    con.register(name, table)
    try:
        yield
    finally:
        with contextlib.suppress(duckdb.TransactionException):
            con.unregister(name)
