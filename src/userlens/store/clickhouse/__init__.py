"""The scale-out event store on ClickHouse: in-process through chDB, or a server over HTTP."""

from userlens.store.clickhouse.store import ClickHouseEventStore
from userlens.store.clickhouse.transport import ChdbTransport, HttpTransport

__all__ = ["ChdbTransport", "ClickHouseEventStore", "HttpTransport"]
