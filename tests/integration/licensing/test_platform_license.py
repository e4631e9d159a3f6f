"""EAF's own license: installation, and the users limit IAM enforces."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from eaf.db.pool import Database
from eaf.eventstore.postgres import PostgresEventStore
from eaf.licensing import (
    LicenseRejectedError,
    Policy,
    UserLimitReachedError,
)
from eaf.licensing.application import Licensing
from tests.integration.licensing.conftest import FLOATING, VENDOR


async def platform_license(licensing: Licensing, users: int) -> str:
    """A signed license for product ``eaf`` allowing ``users`` users."""
    await licensing.keys.generate_key()
    await licensing.catalog.create_product("eaf")
    policy = Policy("eaf-team", limits={"users": users})
    await licensing.catalog.create_policy(policy, "eaf")
    issued = await licensing.licenses.issue(VENDOR, "eaf-team")
    return await licensing.licenses.license_file(issued.license_id)


async def add_user(db: Database, licensing: Licensing, tenant: str) -> None:
    """What IAM does: ask the quota, then claim the username, in one transaction."""
    async with db.transaction(tenant) as conn:
        await licensing.user_quota.admit_user(conn, tenant)
        await conn.execute(
            "INSERT INTO iam_usernames (tenant_id, username_lower, user_id) "
            "VALUES (%s, %s, %s)",
            (tenant, uuid.uuid4().hex, uuid.uuid4().hex),
        )


async def test_users_limit_counts_every_tenant(
    licensing: Licensing, db: Database
) -> None:
    await licensing.platform_license.install(await platform_license(licensing, 3))
    await add_user(db, licensing, "default")
    await add_user(db, licensing, "acme")
    await add_user(db, licensing, "globex")

    with pytest.raises(UserLimitReachedError, match="allows 3 users and 3 exist"):
        await add_user(db, licensing, "acme")


async def test_users_limit_holds_under_concurrency(
    licensing: Licensing, db: Database
) -> None:
    await licensing.platform_license.install(await platform_license(licensing, 5))

    outcomes = await asyncio.gather(
        *(add_user(db, licensing, f"tenant-{n % 4}") for n in range(15)),
        return_exceptions=True,
    )

    refused = [item for item in outcomes if isinstance(item, UserLimitReachedError)]
    assert len(refused) == 10
    assert outcomes.count(None) == 5


async def test_no_installed_license_limits_nothing(
    licensing: Licensing, db: Database
) -> None:
    for _ in range(3):
        await add_user(db, licensing, "acme")

    assert await licensing.platform_license.current() is None


async def test_install_refuses_another_products_license(catalog: Licensing) -> None:
    issued = await catalog.licenses.issue(VENDOR, FLOATING)
    text = await catalog.licenses.license_file(issued.license_id)

    with pytest.raises(LicenseRejectedError, match="product 'orbit'"):
        await catalog.platform_license.install(text)


async def test_install_refuses_an_untrusted_signature(
    licensing: Licensing, db: Database, store: PostgresEventStore
) -> None:
    text = await platform_license(licensing, 3)
    stranger = Licensing(
        db,
        store,
        vendor="stranger",
        key_secret=b"another-secret-0123456789",
    )
    await stranger.keys.generate_key()

    with pytest.raises(LicenseRejectedError, match="does not verify"):
        await stranger.platform_license.install(text)


async def test_install_replaces_and_reports_the_license(licensing: Licensing) -> None:
    await licensing.platform_license.install(await platform_license(licensing, 3))
    issued = await licensing.licenses.issue(VENDOR, "eaf-team")
    second = await licensing.licenses.license_file(issued.license_id)

    await licensing.platform_license.install(second, installed_by="cli:ops")

    current = await licensing.platform_license.current()
    assert current is not None
    assert current["license_id"] == issued.license_id
    assert current["installed_by"] == "cli:ops"
    assert current["status"] == "valid"
