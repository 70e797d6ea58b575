"""Storage behind small protocols: events (DuckDB, later ClickHouse), metadata, blobs."""
