"""Aggregates decide without I/O; state changes only through events."""

from __future__ import annotations

import pytest

from eaf.errors import DomainError
from tests.support.counter import Counter, Incremented, Renamed


def test_command_records_event_and_changes_state() -> None:
    counter = Counter("c-1")

    counter.increment(3)
    counter.rename("apples")

    assert counter.total == 3
    assert counter.pending_events() == [Incremented(by=3), Renamed(name="apples")]


def test_rejected_command_records_nothing() -> None:
    counter = Counter("c-1")

    with pytest.raises(DomainError):
        counter.increment(0)

    assert counter.pending_events() == []


def test_replay_rebuilds_same_state_as_live_handling() -> None:
    live = Counter("c-1")
    for by in (1, 2, 3):
        live.increment(by)

    replayed = Counter("c-1")
    for event in live.pending_events():
        replayed.replay(event)

    assert (replayed.total, replayed.version) == (6, 3)


def test_decode_event_refuses_unknown_type() -> None:
    with pytest.raises(LookupError, match="Vanished"):
        Counter.decode_event("Vanished", {})
