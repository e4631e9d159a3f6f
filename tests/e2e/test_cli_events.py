"""`eaf events show` and `eaf events correct` against a real database."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eaf.application.aggregate import Aggregate
from eaf.cli.events import AGGREGATES, known_streams
from eaf.eventstore import NO_STREAM, NewEvent, PostgresEventStore
from eaf.iam.domain import clients, role, tenant, user
from eaf.licensing.domain import catalog, keyset
from tests.e2e.test_cli_operations import eaf
from tests.support.event_corrections import (
    FIXED_PROFILE,
    REGISTERED,
    USER_STREAM,
    correct,
    registered_user,
    said,
)
from tests.support.servers import ClonedDatabase, Servers


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
