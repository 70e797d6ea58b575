"""Metadata (users, projects, tokens, memberships) in SQL: SQLite by default, PostgreSQL by URL."""

from userlens.store.meta.store import MetaStore

__all__ = ["MetaStore"]
