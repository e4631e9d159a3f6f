"""Row-level security: the runtime role sees only the tenant it states."""

from __future__ import annotations

import psycopg
import pytest

from eaf.db.pool import Database
from eaf.eventstore import NO_STREAM, NewEvent, PostgresEventStore
from tests.support.servers import ClonedDatabase


async def test_runtime_role_reads_no_rows_of_other_tenant(
    db: Database, store: PostgresEventStore
) -> None:
    await store.append("tenant-a", "s-1", "test.thing", [NewEvent("A", {})], NO_STREAM)
    await store.append("tenant-b", "s-1", "test.thing", [NewEvent("B", {})], NO_STREAM)

    async with db.transaction("tenant-a") as conn:
        cur = await conn.execute("SELECT tenant_id FROM events")
        visible = [row["tenant_id"] for row in await cur.fetchall()]
        cur = await conn.execute(
            "SELECT count(*) AS n FROM events WHERE tenant_id = 'tenant-b'"
        )
        other = await cur.fetchone()

    assert visible == ["tenant-a"]
    assert other == {"n": 0}


async def test_runtime_role_without_tenant_sees_nothing(
    db: Database, store: PostgresEventStore
) -> None:
    await store.append("tenant-a", "s-1", "test.thing", [NewEvent("A", {})], NO_STREAM)

    async with db.transaction() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM events")
        assert await cur.fetchone() == {"n": 0}


async def test_runtime_role_cannot_write_for_other_tenant(
    db: Database, store: PostgresEventStore
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        async with db.transaction("tenant-a") as conn:
            await store.append(
                "tenant-b",
                "s-1",
                "test.thing",
                [NewEvent("B", {})],
                NO_STREAM,
                conn=conn,
            )


def test_runtime_role_is_neither_owner_nor_superuser(database: ClonedDatabase) -> None:
    with psycopg.connect(database.runtime_dsn) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        owner = conn.execute(
            "SELECT tableowner = current_user FROM pg_tables WHERE tablename = 'events'"
        ).fetchone()

    assert row == (False, False)
    assert owner == (False,)


async def test_recorded_events_cannot_be_changed(
    database: ClonedDatabase, store: PostgresEventStore
) -> None:
    await store.append("tenant-a", "s-1", "test.thing", [NewEvent("A", {})], NO_STREAM)

    with (
        psycopg.connect(database.owner_dsn) as conn,
        pytest.raises(psycopg.errors.RaiseException, match="immutable"),
    ):
        conn.execute("UPDATE events SET payload = '{}'::jsonb")
