"""Catalog and license lifecycle, each change an event with its actor."""

from __future__ import annotations

from datetime import timedelta

import pytest

from eaf.db.pool import Database
from eaf.errors import AlreadyExistsError
from eaf.eventstore.postgres import PostgresEventStore
from eaf.licensing import (
    CatalogNotFoundError,
    LicenseState,
    LicenseStateError,
    Policy,
    PolicyError,
)
from eaf.licensing.application import Licensing
from eaf.licensing.projections import licensing_projections
from eaf.projections.operations import rebuild_projection
from tests.integration.licensing.conftest import (
    FLOATING,
    PRODUCT,
    VENDOR,
    as_vendor,
    request_for,
)
from tests.support.servers import RUNTIME_ROLE, ClonedDatabase


async def stream_events(
    store: PostgresEventStore, license_id: str
) -> list[tuple[str, str | None]]:
    events = store.read_stream(VENDOR, f"license-{license_id}")
    return [(event.event_type, event.metadata.get("actor")) async for event in events]


async def project_all(db: Database, store: PostgresEventStore) -> None:
    for event in await store.read_all(0, 1000):
        for projection in licensing_projections():
            if projection.handles(event):
                async with db.transaction(event.tenant_id) as conn:
                    await projection.apply(conn, event)


async def test_every_license_change_records_its_actor(
    catalog: Licensing, store: PostgresEventStore
) -> None:
    licenses = catalog.licenses
    license_ = await as_vendor(lambda: licenses.issue("acme", FLOATING), "admin-1")
    license_id = license_.license_id

    await as_vendor(lambda: licenses.suspend(license_id, "unpaid"), "admin-2")
    await as_vendor(lambda: licenses.reinstate(license_id), "admin-3")
    await as_vendor(lambda: licenses.renew(license_id), "admin-4")
    await as_vendor(lambda: licenses.revoke(license_id, "contract ended"), "admin-5")

    assert await stream_events(store, license_id) == [
        ("LicenseIssued", "admin-1"),
        ("LicenseSuspended", "admin-2"),
        ("LicenseReinstated", "admin-3"),
        ("LicenseRenewed", "admin-4"),
        ("LicenseRevoked", "admin-5"),
    ]


async def test_renew_adds_one_policy_term(catalog: Licensing) -> None:
    license_ = await catalog.licenses.issue("acme", FLOATING)
    assert license_.expires_at is not None

    renewed = await catalog.licenses.renew(license_.license_id)

    assert renewed.expires_at == license_.expires_at + timedelta(days=365)


async def test_extend_refuses_an_earlier_expiry(catalog: Licensing) -> None:
    license_ = await catalog.licenses.issue("acme", FLOATING)
    assert license_.expires_at is not None

    with pytest.raises(LicenseStateError):
        await catalog.licenses.extend(
            license_.license_id, license_.expires_at - timedelta(days=1)
        )


async def test_revoked_license_gets_no_new_file(catalog: Licensing) -> None:
    license_ = await catalog.licenses.issue("acme", FLOATING)
    revoked = await catalog.licenses.revoke(license_.license_id, "fraud")

    assert revoked.state is LicenseState.REVOKED
    with pytest.raises(LicenseStateError, match="revoked"):
        await catalog.licenses.license_file(license_.license_id)


async def test_issue_refuses_a_taken_license_id(catalog: Licensing) -> None:
    await catalog.licenses.issue("acme", FLOATING, "lic-acme-1")

    with pytest.raises(AlreadyExistsError):
        await catalog.licenses.issue("globex", FLOATING, "lic-acme-1")


async def test_issue_refuses_an_archived_policy(catalog: Licensing) -> None:
    await catalog.catalog.archive_policy(FLOATING)

    with pytest.raises(PolicyError, match="archived"):
        await catalog.licenses.issue("acme", FLOATING)


async def test_issue_refuses_an_unknown_policy(catalog: Licensing) -> None:
    with pytest.raises(CatalogNotFoundError):
        await catalog.licenses.issue("acme", "no-such-policy")


async def test_product_names_are_unique(catalog: Licensing) -> None:
    with pytest.raises(AlreadyExistsError):
        await catalog.catalog.create_product(PRODUCT)


async def test_archived_product_takes_no_policies(catalog: Licensing) -> None:
    await catalog.catalog.archive_product(PRODUCT)

    with pytest.raises(PolicyError, match="archived"):
        await catalog.catalog.create_policy(Policy("orbit-late"), PRODUCT)


async def test_read_models_follow_the_events(
    catalog: Licensing, db: Database, store: PostgresEventStore
) -> None:
    acme = await catalog.licenses.issue("acme", FLOATING)
    await catalog.licenses.issue("globex", FLOATING)
    await catalog.licenses.activate(request_for(acme.license_id, 1))
    await catalog.licenses.suspend(acme.license_id, "unpaid")

    await project_all(db, store)

    rows = await catalog.licenses.list_licenses(customer="acme")
    assert [(row["id"], row["state"], row["seats_used"]) for row in rows] == [
        (acme.license_id, "suspended", 1)
    ]
    assert len(await catalog.licenses.list_licenses()) == 2
    products = await catalog.catalog.list_products()
    assert [product["name"] for product in products] == [PRODUCT]
    policies = await catalog.catalog.list_policies(PRODUCT)
    assert {policy["id"] for policy in policies} == {FLOATING, "orbit-node"}


async def test_license_read_model_rebuilds_from_events(
    catalog: Licensing, database: ClonedDatabase, store: PostgresEventStore
) -> None:
    acme = await catalog.licenses.issue("acme", FLOATING)
    await catalog.licenses.activate(request_for(acme.license_id, 1))
    await catalog.licenses.revoke(acme.license_id, "fraud")

    for projection in licensing_projections():
        await rebuild_projection(database.owner_dsn, RUNTIME_ROLE, store, projection)

    rows = await catalog.licenses.list_licenses()
    assert [(row["state"], row["seats_used"]) for row in rows] == [("revoked", 1)]
    assert len(await catalog.catalog.list_policies()) == 2
