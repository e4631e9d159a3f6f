"""`eaf events show` and `eaf events correct` against a real database."""

from __future__ import annotations

import json

from eaf.eventstore import NO_STREAM, NewEvent, PostgresEventStore
from tests.e2e.test_cli_operations import eaf
from tests.support.servers import ClonedDatabase, Servers


async def test_correct_appends_audited_event_and_keeps_history(
    database: ClonedDatabase, servers: Servers, store: PostgresEventStore
) -> None:
    [wrong] = await store.append(
        "acme",
        "user-1",
        "iam.user",
        [NewEvent("EmailChanged", {"email": "typo@"})],
        NO_STREAM,
    )

    result = eaf(
        database,
        servers,
        "events",
        "correct",
        "--tenant",
        "acme",
        "--stream",
        "user-1",
        "--type",
        "EmailCorrected",
        "--data",
        '{"email": "alice@acme.example"}',
        "--reason",
        "typo at import",
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
        "user-1",
        "--json",
    )

    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [event["event_type"] for event in events] == [
        "EmailChanged",
        "EmailCorrected",
    ]
    assert events[0]["payload"] == {"email": "typo@"}
    correction = events[1]["metadata"]
    assert correction["correction"] == {
        "reason": "typo at import",
        "corrects": str(wrong.event_id),
    }
    assert correction["actor"].startswith("operator:")


async def test_correct_refuses_bad_input_and_writes_nothing(
    database: ClonedDatabase, servers: Servers, store: PostgresEventStore
) -> None:
    await store.append(
        "acme",
        "user-1",
        "iam.user",
        [NewEvent("EmailChanged", {"email": "x"})],
        NO_STREAM,
    )
    base = ["events", "correct", "--tenant", "acme", "--type", "EmailCorrected"]

    not_json = eaf(
        database, servers, *base, "--stream", "user-1", "--data", "{", "--reason", "r"
    )
    no_stream = eaf(
        database, servers, *base, "--stream", "user-9", "--data", "{}", "--reason", "r"
    )
    no_reason = eaf(
        database, servers, *base, "--stream", "user-1", "--data", "{}", "--reason", " "
    )
    stale = eaf(
        database,
        servers,
        *base,
        "--stream",
        "user-1",
        "--data",
        "{}",
        "--reason",
        "r",
        "--expected-version",
        "0",
    )

    assert not_json.returncode == 2
    assert "not valid JSON" in not_json.stderr
    assert no_stream.returncode == 1
    assert "not found" in no_stream.stderr
    assert no_reason.returncode == 1
    assert "needs a reason" in no_reason.stderr
    assert stale.returncode == 1
    assert "expected 0" in " ".join(stale.stderr.split())
    assert await store.stream_version("acme", "user-1") == 1
