"""Persistent state: one SQLAlchemy store (SQLite by default, PostgreSQL by URL)."""

from core.store.database import Store, open_store

__all__ = ["Store", "open_store"]
