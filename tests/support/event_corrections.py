"""Helpers for the `eaf events correct` tests: streams, CLI calls, checks."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import psycopg

from eaf.eventstore import NO_STREAM, NewEvent, PostgresEventStore
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
