"""How the ClickHouse store reaches ClickHouse. A transport takes SQL with `{name:Type}`
placeholders and their values, returns reads as Arrow tables and takes writes as Arrow
tables. `ChdbTransport` runs ClickHouse's engine in this process; `HttpTransport` talks to a
ClickHouse server over HTTP (clickhouse-connect). The SQL is the same."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from userlens.store.clickhouse.params import as_text

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


Params = Mapping[str, Any] | None


class Transport(Protocol):
    def command(self, sql: str, params: Params = None) -> None: ...

    def query(self, sql: str, params: Params = None) -> pa.Table: ...

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

    def _run(self, sql: str, fmt: str, params: Params) -> Any:
        with ChdbTransport._lock:
            try:
                return ChdbTransport._con.query(sql, fmt, params=as_text(params or {}))
            except RuntimeError as exc:  # chDB's errors
                raise QueryFailed(str(exc).strip()) from None

    def command(self, sql: str, params: Params = None) -> None:
        self._run(sql, "CSV", params)

    def query(self, sql: str, params: Params = None) -> pa.Table:
        result = self._run(sql, "ArrowTable", params)
        assert isinstance(result, pa.Table)
        return result

    def output(self, sql: str, fmt: str, params: Mapping[str, str]) -> bytes:
        """The answer in one of ClickHouse's output formats, with parameters already in
        ClickHouse's text form: what a server's HTTP interface would send back."""
        with ChdbTransport._lock:
            try:
                result = ChdbTransport._con.query(sql, fmt, params=dict(params))
            except RuntimeError as exc:
                raise QueryFailed(str(exc).strip()) from None
        return bytes(result.bytes())

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


class HttpTransport:
    """A ClickHouse server over its HTTP interface, through clickhouse-connect. Values travel
    as query parameters (`param_<name>`), reads come back and writes go out as Arrow."""

    def __init__(
        self,
        url: str,
        *,
        username: str = "default",
        password: str = "",
        compress: bool = True,
        timeout_s: float = 300,
    ) -> None:
        import clickhouse_connect  # imported here: only this transport needs it
        from clickhouse_connect.driver.exceptions import ClickHouseError

        self._errors: tuple[type[Exception], ...] = (ClickHouseError,)
        try:
            self._client = clickhouse_connect.get_client(
                dsn=url,
                username=username,
                password=password,
                compress=compress,
                send_receive_timeout=timeout_s,
                settings=SETTINGS,
                autogenerate_session_id=False,
            )
        except ClickHouseError as exc:
            raise QueryFailed(f"cannot reach ClickHouse at {url}: {exc}") from None

    def command(self, sql: str, params: Params = None) -> None:
        try:
            self._client.command(sql, parameters=dict(params or {}))
        except self._errors as exc:
            raise QueryFailed(str(exc).strip()) from None

    def query(self, sql: str, params: Params = None) -> pa.Table:
        try:
            table = self._client.query_arrow(sql, parameters=dict(params or {}), use_strings=True)
        except self._errors as exc:
            raise QueryFailed(str(exc).strip()) from None
        assert isinstance(table, pa.Table)
        return table

    def insert(self, table: str, data: pa.Table) -> None:
        try:
            self._client.insert_arrow(table, data)
        except self._errors as exc:
            raise QueryFailed(str(exc).strip()) from None

    def close(self) -> None:
        self._client.close()
