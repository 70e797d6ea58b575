"""The scale-out event store on ClickHouse (in-process through chDB)."""

from userlens.store.clickhouse.store import ClickHouseEventStore
from userlens.store.clickhouse.transport import ChdbTransport

__all__ = ["ChdbTransport", "ClickHouseEventStore"]
