"""The embedded event store on DuckDB."""

from userlens.store.duckdb.store import DuckDBEventStore

__all__ = ["DuckDBEventStore"]
