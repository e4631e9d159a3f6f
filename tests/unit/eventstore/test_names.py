"""Names an event may carry: each must stand as one bus subject token."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from eaf.bus.errors import BusError
from eaf.bus.nats import subject_for
from eaf.errors import DomainError
from eaf.eventstore.model import RecordedEvent
from eaf.eventstore.names import InvalidNameError, check_names, is_subject_token

VALID = ["acme", "Acme-01", "tenant_a", "x", "A-b_C-9"]
INVALID = ["", "acme.corp", "a b", "a*", ">", "t\n", "\ta", "é", "a/b", "a:b"]


@pytest.mark.parametrize("value", VALID)
def test_token_accepts_plain_names(value: str) -> None:
    assert is_subject_token(value)


@pytest.mark.parametrize("value", INVALID)
def test_token_rejects_separators_wildcards_and_blanks(value: str) -> None:
    assert not is_subject_token(value)


def test_check_accepts_dotted_stream_type() -> None:
    """Only the context part of a stream type goes into the subject."""
    check_names("acme", "iam.user", ["UserRegistered"])
    check_names("acme", "licensing.license v2", ["LicenseIssued"])


@pytest.mark.parametrize(
    ("tenant_id", "stream_type", "event_type", "kind"),
    [
        ("acme.corp", "iam.user", "UserRegistered", "tenant id"),
        ("", "iam.user", "UserRegistered", "tenant id"),
        ("acme", ".user", "UserRegistered", "stream type"),
        ("acme", "", "UserRegistered", "stream type"),
        ("acme", "i am.user", "UserRegistered", "stream type"),
        ("acme", "iam.user", "User.Registered", "event type"),
        ("acme", "iam.user", "User>", "event type"),
        ("acme", "iam.user", "", "event type"),
    ],
)
def test_check_names_the_offending_value(
    tenant_id: str, stream_type: str, event_type: str, kind: str
) -> None:
    with pytest.raises(InvalidNameError) as caught:
        check_names(tenant_id, stream_type, ["Fine", event_type])

    assert caught.value.kind == kind
    assert caught.value.status == 422
    assert isinstance(caught.value, DomainError)


STREAM_TYPES = ["iam.user", "iam", "iam.user v2", ".user", "", "i am.user", "a>.b"]


def _recorded(tenant_id: str, stream_type: str, event_type: str) -> RecordedEvent:
    return RecordedEvent(
        position=1,
        event_id=uuid4(),
        tenant_id=tenant_id,
        stream_id="s-1",
        stream_type=stream_type,
        stream_version=1,
        event_type=event_type,
        schema_version=1,
        payload={},
        metadata={},
        recorded_at=datetime.now(UTC),
    )


def _publishable(tenant_id: str, stream_type: str, event_type: str) -> bool:
    try:
        subject_for("eaf", _recorded(tenant_id, stream_type, event_type))
    except BusError:
        return False
    return True


def _accepted(tenant_id: str, stream_type: str, event_type: str) -> bool:
    try:
        check_names(tenant_id, stream_type, [event_type])
    except InvalidNameError:
        return False
    return True


@pytest.mark.parametrize("stream_type", STREAM_TYPES)
def test_check_refuses_exactly_what_the_relay_cannot_publish(
    stream_type: str,
) -> None:
    for tenant_id in VALID[:2] + INVALID:
        for event_type in VALID[:2] + INVALID:
            names = (tenant_id, stream_type, event_type)
            assert _accepted(*names) == _publishable(*names), names
