"""Operator commands: projection status and rebuild, parked events and replay."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psycopg
from psycopg.types.json import Jsonb

from eaf.eventstore import NO_STREAM, NewEvent, PostgresEventStore
from tests.support.servers import RUNTIME_PASSWORD, ClonedDatabase, Servers


def eaf(
    database: ClonedDatabase, servers: Servers, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("EAF_")
    }
    env.update(
        EAF_DATABASE_URL=database.owner_dsn,
        EAF_RUNTIME_PASSWORD=RUNTIME_PASSWORD,
        EAF_NATS_URL=servers.nats_url,
        COLUMNS="200",
    )
    return subprocess.run(
        [sys.executable, "-m", "eaf", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def registered(username: str) -> NewEvent:
    return NewEvent(
        "UserRegistered",
        {
            "user_id": str(uuid.uuid4()),
            "username": username,
            "email": f"{username}@acme.example",
            "roles": ["member"],
        },
    )


def usernames(database: ClonedDatabase) -> list[str]:
    with psycopg.connect(database.owner_dsn) as conn:
        rows = conn.execute("SELECT username FROM iam_users ORDER BY 1").fetchall()
    return [row[0] for row in rows]


async def test_status_then_rebuild_fills_read_model(
    database: ClonedDatabase, servers: Servers, store: PostgresEventStore
) -> None:
    for name in ("alice", "bob"):
        await store.append(
            "acme", f"user-{name}", "iam.user", [registered(name)], NO_STREAM
        )

    status = eaf(database, servers, "projections", "status")
    rebuild = eaf(database, servers, "projections", "rebuild", "iam-users")
    after = eaf(database, servers, "projections", "status")

    assert status.returncode == 0, status.stderr
    assert "iam-users" in status.stdout
    assert rebuild.returncode == 0, rebuild.stderr
    assert "iam-users rebuilt" in rebuild.stdout
    assert usernames(database) == ["alice", "bob"]
    row = next(line for line in after.stdout.splitlines() if "iam-users" in line)
    assert row.split("│")[2].strip() == "2"  # position == head, lag 0


async def test_parked_event_is_listed_and_replayed_once(
    database: ClonedDatabase, servers: Servers, store: PostgresEventStore
) -> None:
    [event] = await store.append(
        "acme", "user-carol", "iam.user", [registered("carol")], 0
    )
    with psycopg.connect(database.owner_dsn) as conn:
        conn.execute(
            "INSERT INTO parked_messages (consumer, event_id, position, tenant_id, "
            "event_type, envelope, error, attempts) "
            "VALUES ('iam-users', %s, %s, 'acme', 'UserRegistered', %s, 'boom', 5)",
            (event.event_id, event.position, Jsonb(event.to_envelope())),
        )

    listed = eaf(database, servers, "dlq", "list")
    replayed = eaf(database, servers, "dlq", "replay")
    again = eaf(database, servers, "dlq", "replay")
    left = eaf(database, servers, "dlq", "list")

    assert listed.returncode == 0, listed.stderr
    assert "UserRegistered" in listed.stdout
    assert "1 parked" in listed.stdout
    assert replayed.returncode == 0, replayed.stderr
    assert "1 replayed, 0 failed" in replayed.stdout
    assert "0 replayed, 0 failed" in again.stdout
    assert "0 parked" in left.stdout
    assert usernames(database) == ["carol"]


def test_unknown_projection_is_a_usage_error(
    database: ClonedDatabase, servers: Servers
) -> None:
    result = eaf(database, servers, "projections", "rebuild", "nope")

    assert result.returncode == 2
    assert "unknown projection 'nope'" in result.stderr
    assert "iam-users" in result.stderr


def test_commands_without_servers_say_what_to_do(tmp_path: object) -> None:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("EAF_")
    }
    env["EAF_DATA_DIR"] = str(tmp_path)

    result = subprocess.run(
        [sys.executable, "-m", "eaf", "projections", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert "start `eaf up` or set EAF_DATABASE_URL" in " ".join(result.stderr.split())
