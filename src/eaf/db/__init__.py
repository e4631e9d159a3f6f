"""PostgreSQL access: a runtime pool with per-transaction tenant scoping."""

from eaf.db.pool import Database

__all__ = ["Database"]
