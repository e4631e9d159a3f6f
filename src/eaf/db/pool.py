"""The runtime connection pool.

Services connect as a non-owner, non-superuser role, so row-level security holds.
Every transaction states its tenant with ``set_config('eaf.tenant_id', ..., true)``:
the setting ends with the transaction and cannot leak into the pool.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import structlog
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from eaf.errors import InfrastructureError, InvalidDataError

log = structlog.get_logger(__name__)

Connection = psycopg.AsyncConnection[dict[str, Any]]


class Database:
    """An async pool of runtime connections."""

    def __init__(self, dsn: str, *, min_size: int = 2, max_size: int = 10) -> None:
        self.dsn = dsn
        self._pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            open=False,
            kwargs={"row_factory": dict_row, "autocommit": False},
            check=AsyncConnectionPool.check_connection,
            reconnect_timeout=3600,
            name="eaf-runtime",
        )

    async def open(self, wait_s: float = 30.0) -> None:
        try:
            await self._pool.open(wait=True, timeout=wait_s)
        except Exception as exc:
            raise InfrastructureError(
                f"cannot connect to PostgreSQL as the runtime role: {exc}; "
                "check EAF_DATABASE_RUNTIME_URL and that `eaf migrate` ran"
            ) from exc

    async def close(self) -> None:
        await self._pool.close()

    @contextlib.asynccontextmanager
    async def transaction(
        self, tenant_id: str | None = None
    ) -> AsyncIterator[Connection]:
        """A connection inside one transaction, scoped to ``tenant_id`` if given.

        Without a tenant, row-level security shows no tenant-owned rows at all.

        Raises:
            InvalidDataError: a value could not be stored (SQLSTATE class 22).
            InfrastructureError: the server is unreachable or ended the session.
        """
        try:
            async with self._pool.connection() as conn, conn.transaction():
                if tenant_id is not None:
                    await conn.execute(
                        "SELECT set_config('eaf.tenant_id', %s, true)", (tenant_id,)
                    )
                yield conn
        except (psycopg.DataError, UnicodeEncodeError) as exc:
            raise InvalidDataError(
                "a value cannot be stored: it holds NUL characters, broken "
                "Unicode or a number out of range"
            ) from exc
        except (
            psycopg.OperationalError,
            psycopg.errors.IdleInTransactionSessionTimeout,
        ) as exc:
            raise InfrastructureError(
                f"PostgreSQL ended or refused the transaction ({exc}); check "
                "that the server is up, then try again"
            ) from exc

    async def is_reachable(self) -> bool:
        try:
            async with self._pool.connection(timeout=2) as conn:
                await conn.execute("SELECT 1")
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return False
        return True

    def stats(self) -> dict[str, int]:
        return dict(self._pool.get_stats())
