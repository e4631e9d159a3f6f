"""Fixtures for the licensing service on a real database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest

from eaf.application.commands import run_command
from eaf.context import ExecutionContext
from eaf.db.pool import Database
from eaf.eventstore.postgres import PostgresEventStore
from eaf.licensing import ActivationRequest, Fingerprint, Policy
from eaf.licensing.application import Licensing

T = TypeVar("T")

VENDOR = "default"
PRODUCT = "orbit"
SECRET = b"licensing-test-secret-0123456789"
FLOATING = "orbit-floating"
NODE_LOCKED = "orbit-node"


def machine(number: int) -> Fingerprint:
    """The fingerprint of test machine ``number``; distinct numbers never match."""
    return Fingerprint.from_values(
        PRODUCT,
        {
            "machine_id": f"{number:032x}",
            "dmi_uuid": f"00000000-0000-4000-8000-{number:012x}",
            "hostname": f"host-{number}",
            "mac": f"52:54:00:00:{number // 256 % 256:02x}:{number % 256:02x}",
        },
    )


def request_for(license_id: str, number: int) -> ActivationRequest:
    """A fresh activation request of test machine ``number``."""
    return ActivationRequest.create(
        license_id, PRODUCT, machine(number), now=datetime.now(UTC)
    )


async def as_vendor(handler: Callable[[], Awaitable[T]], actor: str = "admin-1") -> T:
    """Run ``handler`` as a superadmin of the vendor tenant."""
    context = ExecutionContext(tenant_id=VENDOR, actor=actor)
    return await run_command(context, handler, retries=0)


@pytest.fixture
def licensing(db: Database, store: PostgresEventStore) -> Licensing:
    return Licensing(db, store, vendor=VENDOR, key_secret=SECRET)


@pytest.fixture
async def catalog(licensing: Licensing) -> Licensing:
    """A signing key, product ``orbit`` and two policies: floating and node-locked."""
    await licensing.keys.generate_key()
    await licensing.catalog.create_product(PRODUCT, "Orbit")
    floating = Policy(
        FLOATING,
        duration_days=365,
        grace_days=14,
        entitlements=frozenset({"reports"}),
        limits={"machines": 10, "users": 50},
    )
    await licensing.catalog.create_policy(floating, PRODUCT)
    await licensing.catalog.create_policy(
        Policy(NODE_LOCKED, duration_days=30, node_locked=True), PRODUCT
    )
    return licensing
