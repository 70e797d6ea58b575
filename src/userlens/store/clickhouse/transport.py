"""How the ClickHouse store reaches ClickHouse. A transport takes SQL with `{name:Type}`
placeholders and their values as ClickHouse text, returns reads as Arrow tables and takes
writes as Arrow tables. `ChdbTransport` runs ClickHouse's engine in this process; a server
over HTTP is the same SQL through another transport."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

# Standard SQL's NULLs: a missing join partner and a grouping set's total read as NULL, not
# as the type's default value. Naive times are UTC.
SETTINGS: dict[str, Any] = {
    "join_use_nulls": 1,
    "group_by_use_nulls": 1,
    "session_timezone": "UTC",
    # `WITH x AS MATERIALIZED (...)` computed once, as on DuckDB, not once per reference.
    "enable_materialized_cte": 1,
}


class QueryFailed(Exception):
    """ClickHouse refused a query (its message says why)."""


class Transport(Protocol):
    def command(self, sql: str, params: dict[str, str] | None = None) -> None: ...

    def query(self, sql: str, params: dict[str, str] | None = None) -> pa.Table: ...

    def insert(self, table: str, data: pa.Table) -> None:
        """Append `data` to `table` (database-qualified), columns by name."""
        ...

    def close(self) -> None: ...


class ChdbTransport:
    """ClickHouse's engine inside this process (chDB). chDB keeps one engine per process,
    on one data directory: every transport of the process shares it, so each store keeps to
    its own database."""

    _lock = threading.Lock()
    _path: str | None = None
    _con: Any = None

    def __init__(self, path: Path) -> None:
        import chdb  # imported here: only this backend needs it

        with ChdbTransport._lock:
            if ChdbTransport._con is None:
                path.mkdir(parents=True, exist_ok=True)
                con = chdb.connect(str(path))  # type: ignore[no-untyped-call]
                for name, value in SETTINGS.items():
                    con.query(
                        f"SET {name} = {value!r}"
                        if isinstance(value, str)
                        else f"SET {name} = {value}"
                    )
                ChdbTransport._con = con
                ChdbTransport._path = str(path)
            elif ChdbTransport._path != str(path):
                raise ValueError(
                    f"chDB already runs on {ChdbTransport._path} in this process; "
                    f"it cannot also open {path}"
                )

    def _run(self, sql: str, fmt: str, params: dict[str, str] | None) -> Any:
        with ChdbTransport._lock:
            try:
                return ChdbTransport._con.query(sql, fmt, params=params or {})
            except RuntimeError as exc:  # chDB's errors
                raise QueryFailed(str(exc).strip()) from None

    def command(self, sql: str, params: dict[str, str] | None = None) -> None:
        self._run(sql, "CSV", params)

    def query(self, sql: str, params: dict[str, str] | None = None) -> pa.Table:
        result = self._run(sql, "ArrowTable", params)
        assert isinstance(result, pa.Table)
        return result

    def insert(self, table: str, data: pa.Table) -> None:
        columns = ", ".join(f"`{name}`" for name in data.column_names)
        with ChdbTransport._lock:
            try:
                # chDB's Python() table function reads the local variable named here.
                ChdbTransport._con.query(
                    f"INSERT INTO {table} ({columns}) SELECT {columns} FROM Python(data)"
                )
            except RuntimeError as exc:
                raise QueryFailed(str(exc).strip()) from None

    def close(self) -> None:
        """The engine stays up for the process's other stores; nothing to release here."""
