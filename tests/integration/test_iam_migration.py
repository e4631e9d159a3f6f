"""Revision 0004 (IAM complete) goes down cleanly and secures every new table."""

from __future__ import annotations

import psycopg

from eaf.db import migrate
from eaf.db.migrations.versions.r0004_iam_complete import TABLES
from tests.support.servers import RUNTIME_PASSWORD, RUNTIME_ROLE, ClonedDatabase


def iam_state(dsn: str) -> dict[str, tuple[bool, str]]:
    """Tables of revision 0004 with RLS on/off and the runtime role's grants."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname, c.relrowsecurity, string_agg(g.privilege_type, ',' "
            "ORDER BY g.privilege_type) FROM pg_class c LEFT JOIN "
            "information_schema.role_table_grants g ON g.table_name = c.relname "
            "AND g.grantee = %s WHERE c.relkind = 'r' AND c.relname = ANY(%s) "
            "GROUP BY 1, 2",
            (RUNTIME_ROLE, list(TABLES)),
        ).fetchall()
    return {name: (secured, grants) for name, secured, grants in rows}


def columns(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name || '.' || column_name FROM information_schema.columns "
            "WHERE table_name IN ('iam_users', 'iam_signing_keys')"
        ).fetchall()
    return {row[0] for row in rows}


def test_iam_revision_downgrades_and_upgrades(database: ClonedDatabase) -> None:
    migrate.downgrade(database.owner_dsn, RUNTIME_ROLE, "0003")
    down_tables, down_columns = (
        iam_state(database.owner_dsn),
        columns(database.owner_dsn),
    )
    migrate.upgrade(database.owner_dsn, RUNTIME_ROLE, RUNTIME_PASSWORD)

    assert down_tables == {}
    assert "iam_users.display_name" not in down_columns
    assert "iam_signing_keys.publish_until" not in down_columns
    assert iam_state(database.owner_dsn) == {
        table: (True, "DELETE,INSERT,SELECT,UPDATE") for table in TABLES
    }
    assert {"iam_users.display_name", "iam_signing_keys.publish_until"} <= columns(
        database.owner_dsn
    )
