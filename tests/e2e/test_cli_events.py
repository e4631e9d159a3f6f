"""`eaf events show` and `eaf events correct` against a real database."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import psycopg
import pytest

from eaf.application.aggregate import Aggregate
from eaf.cli.events import AGGREGATES, known_streams
from eaf.eventstore import NO_STREAM, NewEvent, PostgresEventStore
from eaf.iam.domain import clients, role, tenant, user
from eaf.licensing.domain import catalog, keyset
from tests.e2e.test_cli_operations import eaf
from tests.support.servers import ClonedDatabase, Servers

USER_STREAM = "user-u1"
REGISTERED = {
    "user_id": "u1",
    "username": "alice",
    "email": "alice@acme.example",
    "roles": ["member"],
}
FIXED_PROFILE = {
    "username": "alice",
    "email": "alice@acme.example",
    "display_name": "Alice",
}
LICENSE_STREAM = "license-lic-1"
LICENSE_ISSUED: dict[str, Any] = {
    "license_id": "lic-1",
    "occurred_at": "2026-01-01T00:00:00+00:00",
    "product": "erp",
    "customer": "acme",
    "policy": {
        "name": "standard",
        "duration_days": None,
        "grace_days": 0,
        "entitlements": [],
        "limits": {},
        "node_locked": False,
        "is_trial": False,
    },
    "expires_at": None,
}


def correct(
    database: ClonedDatabase,
    servers: Servers,
    stream: str,
    event_type: str,
    payload: dict[str, Any] | str,
    *extra: str,
    tenant: str = "acme",
) -> subprocess.CompletedProcess[str]:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return eaf(
        database,
        servers,
        "events",
        "correct",
        "--tenant",
        tenant,
        "--stream",
        stream,
        "--type",
        event_type,
        "--data",
        data,
        *extra,
    )


def said(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join(result.stderr.split())


def audited(
    database: ClonedDatabase,
    servers: Servers,
    stream: str,
    event_type: str,
    payload: dict[str, Any],
    tenant: str = "acme",
) -> subprocess.CompletedProcess[str]:
    """``correct`` with a reason and an operator."""
    return correct(
        database,
        servers,
        stream,
        event_type,
        payload,
        "--reason",
        "r",
        "--operator",
        "jane.ops",
        tenant=tenant,
    )


def read_model(database: ClonedDatabase, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database.owner_dsn) as conn:
        return conn.execute(query).fetchall()


async def registered_user(store: PostgresEventStore) -> NewEvent:
    event = NewEvent("UserRegistered", REGISTERED)
    await store.append("acme", USER_STREAM, "iam.user", [event], NO_STREAM)
    return event


async def issued_license(store: PostgresEventStore, *more: NewEvent) -> None:
    issued = NewEvent("LicenseIssued", LICENSE_ISSUED)
    await store.append(
        "acme", LICENSE_STREAM, "licensing.license", [issued, *more], NO_STREAM
    )


def license_change(**fields: str) -> dict[str, str]:
    return {
        "license_id": "lic-1",
        "occurred_at": "2026-02-01T00:00:00+00:00",
        **fields,
    }


async def test_correct_appends_audited_event_and_keeps_history(
    database: ClonedDatabase, servers: Servers, store: PostgresEventStore
) -> None:
    wrong = await registered_user(store)

    result = correct(
        database,
        servers,
        USER_STREAM,
        "UserProfileUpdated",
        FIXED_PROFILE,
        "--reason",
        "typo at import",
        "--operator",
        "jane.ops",
        "--corrects",
        str(wrong.event_id),
    )
    shown = eaf(
        database,
        servers,
        "events",
        "show",
        "--tenant",
        "acme",
        "--stream",
        USER_STREAM,
        "--json",
    )

    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [event["event_type"] for event in events] == [
        "UserRegistered",
        "UserProfileUpdated",
    ]
    assert events[0]["payload"] == REGISTERED
    assert events[1]["payload"] == FIXED_PROFILE
    metadata = events[1]["metadata"]
    assert metadata["correction"] == {
        "reason": "typo at import",
        "corrects": str(wrong.event_id),
        "operator": "jane.ops",
    }
    assert metadata["actor"] == "operator:jane.ops"


async def test_correct_refuses_event_type_unknown_to_aggregate(
    database: ClonedDatabase, servers: Servers, store: PostgresEventStore
) -> None:
    await registered_user(store)

    result = correct(
        database,
        servers,
        USER_STREAM,
        "EmailCorrected",
        {"email": "alice@acme.example"},
        "--reason",
        "typo",
        "--operator",
        "jane.ops",
    )

    assert result.returncode == 1
    assert "'EmailCorrected' is not an event of iam.user" in said(result)
    assert "UserProfileUpdated" in said(result)
    assert await store.stream_version("acme", USER_STREAM) == 1


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        ({"username": "alice", "email": "a@acme.example"}, "display_name: Field"),
        ({**FIXED_PROFILE, "email": ["not", "text"]}, "email: Input should be"),
        ({**FIXED_PROFILE, "nickname": "al"}, "nickname: Extra inputs"),
    ],
)
async def test_correct_refuses_payload_the_event_rejects(
    database: ClonedDatabase,
    servers: Servers,
    store: PostgresEventStore,
    payload: dict[str, Any],
    complaint: str,
) -> None:
    await registered_user(store)

    result = correct(
        database,
        servers,
        USER_STREAM,
        "UserProfileUpdated",
        payload,
        "--reason",
        "typo",
        "--operator",
        "jane.ops",
    )

    assert result.returncode == 1
    assert "UserProfileUpdated payload is invalid" in said(result)
    assert complaint in said(result)
    assert await store.stream_version("acme", USER_STREAM) == 1


async def test_correct_refuses_stream_type_no_aggregate_knows(
    database: ClonedDatabase, servers: Servers, store: PostgresEventStore
) -> None:
    await store.append(
        "acme", "thing-1", "test.thing", [NewEvent("Made", {})], NO_STREAM
    )

    result = correct(
        database,
        servers,
        "thing-1",
        "Made",
        {},
        "--reason",
        "r",
        "--operator",
        "jane.ops",
    )

    assert result.returncode == 1
    assert "'test.thing', which no aggregate" in said(result)
    assert await store.stream_version("acme", "thing-1") == 1


async def test_correct_refuses_bad_input_and_writes_nothing(
    database: ClonedDatabase, servers: Servers, store: PostgresEventStore
) -> None:
    await registered_user(store)
    base = ["--operator", "jane.ops"]
    profile = json.dumps(FIXED_PROFILE)
    update = "UserProfileUpdated"

    not_json = correct(
        database, servers, USER_STREAM, update, "{", "--reason", "r", *base
    )
    no_operator = correct(
        database, servers, USER_STREAM, update, profile, "--reason", "r"
    )
    blank_operator = correct(
        database,
        servers,
        USER_STREAM,
        update,
        profile,
        "--reason",
        "r",
        "--operator",
        " ",
    )
    no_stream = correct(
        database, servers, "user-9", update, profile, "--reason", "r", *base
    )
    no_reason = correct(
        database, servers, USER_STREAM, update, profile, "--reason", " ", *base
    )
    stale = correct(
        database,
        servers,
        USER_STREAM,
        update,
        profile,
        "--reason",
        "r",
        *base,
        "--expected-version",
        "0",
    )

    assert not_json.returncode == 2
    assert "not valid JSON" in not_json.stderr
    assert no_operator.returncode == 2
    assert "--operator" in said(no_operator)
    assert blank_operator.returncode == 2
    assert "--operator must be" in said(blank_operator)
    assert no_stream.returncode == 1
    assert "not found" in no_stream.stderr
    assert no_reason.returncode == 1
    assert "needs a reason" in no_reason.stderr
    assert stale.returncode == 1
    assert "expected 0" in said(stale)
    assert await store.stream_version("acme", USER_STREAM) == 1


def test_every_aggregate_of_the_domain_is_correctable() -> None:
    """A new aggregate must join the catalog, or its streams could not be fixed."""
    modules = (clients, role, tenant, user, catalog, keyset)
    defined = {
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Aggregate)
        and value is not Aggregate
    }

    assert defined == set(AGGREGATES)
    assert set(known_streams()) == {
        *(aggregate.stream_type for aggregate in AGGREGATES),
        "licensing.license",
    }


def test_every_event_type_is_correctable_or_names_its_command() -> None:
    """A new event type must be classified, or corrections could bypass tables."""
    for schema in known_streams().values():
        correctable = set(schema.correctable)
        command_only = set(schema.command_only)

        assert correctable | command_only == set(schema.schema_versions)
        assert not correctable & command_only


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
