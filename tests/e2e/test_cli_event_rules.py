"""`eaf events correct` takes only what the aggregate's own command would record."""

from __future__ import annotations

from typing import Any

import pytest

from eaf.eventstore import NO_STREAM, NewEvent, PostgresEventStore
from tests.e2e.test_cli_operations import eaf
from tests.support.event_corrections import (
    FIXED_PROFILE,
    LICENSE_ISSUED,
    LICENSE_STREAM,
    REGISTERED,
    USER_STREAM,
    audited,
    issued_license,
    license_change,
    read_model,
    registered_user,
    said,
)
from tests.support.servers import ClonedDatabase, Servers

TENANT_CREATED = NewEvent("TenantCreated", {"slug": "rtl", "name": "RTL"})
TENANT_SUSPENDED = NewEvent("TenantSuspended", {"reason": "unpaid"})


@pytest.mark.parametrize(
    ("history", "event_type", "payload", "command"),
    [
        ([], "TenantSuspended", {"reason": "fraud"}, "eaf tenants suspend rtl"),
        ([], "TenantRenamed", {"name": ""}, "eaf tenants rename rtl"),
        ([], "TenantRenamed", {"name": "x" * 5000}, "eaf tenants rename rtl"),
        ([], "TenantReactivated", {}, "eaf tenants reactivate rtl"),
        (
            [TENANT_SUSPENDED],
            "TenantSuspended",
            {"reason": "again"},
            "eaf tenants suspend rtl",
        ),
    ],
)
async def test_correct_refuses_tenant_events_and_names_command(
    database: ClonedDatabase,
    servers: Servers,
    store: PostgresEventStore,
    history: list[NewEvent],
    event_type: str,
    payload: dict[str, Any],
    command: str,
) -> None:
    """Logins read iam_tenants, which only the tenant commands write."""
    events = [TENANT_CREATED, *history]
    await store.append("rtl", "tenant-rtl", "iam.tenant", events, NO_STREAM)

    result = audited(database, servers, "tenant-rtl", event_type, payload, "rtl")

    assert result.returncode == 1
    assert f"{event_type} cannot be a correction" in said(result)
    assert "iam_tenants" in said(result)
    assert f"use `{command}" in said(result)
    assert await store.stream_version("rtl", "tenant-rtl") == len(events)


@pytest.mark.parametrize(
    ("stream_type", "stream", "first", "event_type", "payload", "command"),
    [
        (
            "iam.user",
            USER_STREAM,
            NewEvent("UserRegistered", REGISTERED),
            "UserProfileUpdated",
            {**FIXED_PROFILE, "email": "alice@other.example"},
            "eaf users update u1 --tenant acme",
        ),
        (
            "iam.user",
            USER_STREAM,
            NewEvent("UserRegistered", REGISTERED),
            "UserDeactivated",
            {},
            "eaf users deactivate u1 --tenant acme",
        ),
        (
            "iam.user",
            USER_STREAM,
            NewEvent("UserRegistered", {**REGISTERED, "roles": ["superadmin"]}),
            "UserRoleRevoked",
            {"role": "superadmin"},
            "eaf users revoke-role u1 superadmin",
        ),
        (
            "licensing.license",
            LICENSE_STREAM,
            NewEvent("LicenseIssued", LICENSE_ISSUED),
            "LicenseIssued",
            LICENSE_ISSUED,
            "eaf license issue",
        ),
    ],
)
async def test_correct_refuses_command_only_change_and_names_it(
    database: ClonedDatabase,
    servers: Servers,
    store: PostgresEventStore,
    stream_type: str,
    stream: str,
    first: NewEvent,
    event_type: str,
    payload: dict[str, Any],
    command: str,
) -> None:
    await store.append("acme", stream, stream_type, [first], NO_STREAM)

    result = audited(database, servers, stream, event_type, payload)

    assert result.returncode == 1
    assert f"{event_type} cannot be a correction" in said(result)
    assert f"use `{command}" in said(result)
    assert await store.stream_version("acme", stream) == 1


@pytest.mark.parametrize(
    ("display_name", "complaint"),
    [
        ("A" * 201, "display name is longer than 200 characters"),
        ("  Alice   Smith ", 'display_name would be "Alice Smith"'),
    ],
)
async def test_correct_refuses_profile_the_command_would_not_store(
    database: ClonedDatabase,
    servers: Servers,
    store: PostgresEventStore,
    display_name: str,
    complaint: str,
) -> None:
    await registered_user(store)
    profile = {**FIXED_PROFILE, "display_name": display_name}

    result = audited(database, servers, USER_STREAM, "UserProfileUpdated", profile)

    assert result.returncode == 1
    assert complaint in said(result)
    assert await store.stream_version("acme", USER_STREAM) == 1


async def test_correct_refuses_invalid_username_in_profile(
    database: ClonedDatabase, servers: Servers, store: PostgresEventStore
) -> None:
    await registered_user(store)
    profile = {**FIXED_PROFILE, "username": ""}

    result = audited(database, servers, USER_STREAM, "UserProfileUpdated", profile)

    assert result.returncode == 1
    assert "username '' is invalid" in said(result)
    assert await store.stream_version("acme", USER_STREAM) == 1


@pytest.mark.parametrize(
    ("event_type", "payload", "complaint"),
    [
        ("UserActivated", {}, "user 'u1' is not inactive"),
        ("UserRoleRevoked", {"role": "auditor"}, "changes nothing"),
    ],
)
async def test_correct_refuses_user_change_the_state_forbids(
    database: ClonedDatabase,
    servers: Servers,
    store: PostgresEventStore,
    event_type: str,
    payload: dict[str, Any],
    complaint: str,
) -> None:
    await registered_user(store)

    result = audited(database, servers, USER_STREAM, event_type, payload)

    assert result.returncode == 1
    assert complaint in said(result)
    assert await store.stream_version("acme", USER_STREAM) == 1


@pytest.mark.parametrize(
    ("history", "event_type", "payload", "complaint"),
    [
        (
            [NewEvent("LicenseSuspended", license_change(reason="unpaid"))],
            "LicenseSuspended",
            license_change(reason="again"),
            "cannot suspend a suspended license",
        ),
        (
            [],
            "LicenseSuspended",
            license_change(reason="x" * 501),
            "at most 500",
        ),
        (
            [],
            "LicenseReinstated",
            license_change(),
            "cannot reinstate a active license",
        ),
        (
            [],
            "LicenseRevoked",
            license_change(occurred_at="2999-01-01T00:00:00+00:00", reason="r"),
            "occurred_at lies in the future",
        ),
    ],
)
async def test_correct_refuses_license_change_the_command_refuses(
    database: ClonedDatabase,
    servers: Servers,
    store: PostgresEventStore,
    history: list[NewEvent],
    event_type: str,
    payload: dict[str, Any],
    complaint: str,
) -> None:
    await issued_license(store, *history)

    result = audited(database, servers, LICENSE_STREAM, event_type, payload)

    assert result.returncode == 1
    assert complaint in said(result)
    assert await store.stream_version("acme", LICENSE_STREAM) == 1 + len(history)


async def test_correct_refuses_archiving_an_archived_product(
    database: ClonedDatabase, servers: Servers, store: PostgresEventStore
) -> None:
    created = NewEvent("ProductCreated", {"name": "erp", "display_name": "ERP"})
    archived = NewEvent("ProductArchived", {"name": "erp"})
    stream = "product-erp"
    await store.append(
        "acme", stream, "licensing.product", [created, archived], NO_STREAM
    )

    result = audited(database, servers, stream, "ProductArchived", {"name": "erp"})

    assert result.returncode == 1
    assert "ProductArchived changes nothing" in said(result)
    assert await store.stream_version("acme", stream) == 2


async def test_corrected_profile_reaches_read_model_after_rebuild(
    database: ClonedDatabase, servers: Servers, store: PostgresEventStore
) -> None:
    await registered_user(store)
    profile = {**FIXED_PROFILE, "display_name": "Alice Smith"}

    result = audited(database, servers, USER_STREAM, "UserProfileUpdated", profile)
    rebuild = eaf(database, servers, "projections", "rebuild", "iam-users")

    assert result.returncode == 0, result.stderr
    assert rebuild.returncode == 0, rebuild.stderr
    rows = read_model(database, "SELECT user_id, display_name FROM iam_users")
    assert rows == [("u1", "Alice Smith")]
    assert await store.stream_version("acme", USER_STREAM) == 2


async def test_corrected_suspension_reaches_read_model_after_rebuild(
    database: ClonedDatabase, servers: Servers, store: PostgresEventStore
) -> None:
    await issued_license(store)
    suspended = license_change(reason="chargeback")

    result = audited(database, servers, LICENSE_STREAM, "LicenseSuspended", suspended)
    rebuild = eaf(database, servers, "projections", "rebuild", "licensing-licenses")

    assert result.returncode == 0, result.stderr
    assert rebuild.returncode == 0, rebuild.stderr
    rows = read_model(database, "SELECT license_id, state FROM licensing_licenses")
    assert rows == [("lic-1", "suspended")]
    assert await store.stream_version("acme", LICENSE_STREAM) == 2
