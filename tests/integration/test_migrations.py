"""Every migration goes down and up again to the same schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from alembic.script import ScriptDirectory

from eaf.db import migrate
from tests.support.servers import RUNTIME_PASSWORD, RUNTIME_ROLE, Servers, drop_database

SCHEMA_QUERY = """
SELECT 'column', table_name || '.' || column_name || ' ' || data_type
       || ' ' || is_nullable || ' ' || coalesce(column_default, '')
  FROM information_schema.columns
 WHERE table_schema = 'public' AND table_name <> 'alembic_version'
UNION ALL
SELECT 'index', indexdef FROM pg_indexes
 WHERE schemaname = 'public' AND tablename <> 'alembic_version'
UNION ALL
SELECT 'policy', tablename || ' ' || policyname || ' ' || coalesce(qual, '')
  FROM pg_policies WHERE schemaname = 'public'
UNION ALL
SELECT 'function', proname || '(' || pg_get_function_arguments(oid) || ')'
  FROM pg_proc WHERE pronamespace = 'public'::regnamespace
UNION ALL
SELECT 'grant', table_name || ' ' || privilege_type
  FROM information_schema.role_table_grants WHERE grantee = %s
ORDER BY 1, 2
"""


@pytest.fixture
def empty_database(servers: Servers) -> Iterator[str]:
    name = f"eaf_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(servers.admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield servers.dsn_for(name)
    drop_database(servers, name)


def schema_of(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(SCHEMA_QUERY, (RUNTIME_ROLE,)).fetchall()  # type: ignore[return-value]


def revisions() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config("postgresql://", "x"))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def test_every_revision_downgrades_and_upgrades_to_same_schema(
    empty_database: str,
) -> None:
    schemas_up: dict[str, list[tuple[str, str]]] = {}
    for revision in revisions():
        migrate.upgrade(empty_database, RUNTIME_ROLE, RUNTIME_PASSWORD, revision)
        schemas_up[revision] = schema_of(empty_database)

    for previous, revision in reversed(
        list(zip(["base", *revisions()], revisions(), strict=False))
    ):
        migrate.downgrade(empty_database, RUNTIME_ROLE, previous)
        expected = [] if previous == "base" else schemas_up[previous]
        assert schema_of(empty_database) == expected, f"downgrade of {revision}"

    migrate.upgrade(empty_database, RUNTIME_ROLE, RUNTIME_PASSWORD)
    assert schema_of(empty_database) == schemas_up[revisions()[-1]]


def test_upgrade_sql_is_printed_for_review(empty_database: str) -> None:
    text = migrate.upgrade_sql(empty_database, RUNTIME_ROLE)

    assert "CREATE TABLE events" in text
    assert "ENABLE ROW LEVEL SECURITY" in text
    assert migrate.current_revision(empty_database) is None
