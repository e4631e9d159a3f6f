"""Revision 0003 goes down cleanly and comes back up."""

from __future__ import annotations

import psycopg

from eaf.db import migrate
from tests.support.servers import RUNTIME_PASSWORD, RUNTIME_ROLE, ClonedDatabase

LICENSING_TABLES = {
    "licensing_signing_keys",
    "licensing_seat_limits",
    "licensing_seats",
    "licensing_platform_license",
    "licensing_products",
    "licensing_policies",
    "licensing_licenses",
}


def licensing_tables(dsn: str) -> dict[str, bool]:
    """Licensing tables, each with whether row-level security is on."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT relname, relrowsecurity FROM pg_class "
            "WHERE relkind = 'r' AND relname LIKE 'licensing_%'"
        ).fetchall()
    return dict(rows)


def test_licensing_revision_downgrades_and_upgrades(database: ClonedDatabase) -> None:
    migrate.downgrade(database.owner_dsn, RUNTIME_ROLE, "0002")
    after_downgrade = licensing_tables(database.owner_dsn)
    migrate.upgrade(database.owner_dsn, RUNTIME_ROLE, RUNTIME_PASSWORD)

    tables = licensing_tables(database.owner_dsn)
    assert after_downgrade == {}
    assert set(tables) == LICENSING_TABLES
    assert [name for name, secured in tables.items() if not secured] == [
        "licensing_platform_license"
    ]
