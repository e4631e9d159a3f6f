"""Policies and the validity window of license documents."""

from __future__ import annotations

from datetime import timedelta

import pytest

from eaf.licensing import (
    LicenseFormatError,
    LicenseStatus,
    Policy,
    PolicyError,
    SigningKey,
)
from eaf.licensing.domain._codec import format_timestamp, parse_timestamp

from .conftest import START, make_document

EXPIRES = START + timedelta(days=365)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(seconds=-1), LicenseStatus.NOT_YET_VALID),
        (timedelta(0), LicenseStatus.VALID),
        (timedelta(days=365, seconds=-1), LicenseStatus.VALID),
        (timedelta(days=365), LicenseStatus.IN_GRACE),
        (timedelta(days=379, seconds=-1), LicenseStatus.IN_GRACE),
        (timedelta(days=379), LicenseStatus.EXPIRED),
    ],
)
def test_document_status_follows_window_and_grace(
    signing_key: SigningKey, offset: timedelta, expected: LicenseStatus
) -> None:
    document = make_document(signing_key)

    assert document.status_at(START + offset) is expected


def test_perpetual_document_never_expires(signing_key: SigningKey) -> None:
    document = make_document(signing_key, expires_at=None)

    assert document.status_at(START + timedelta(days=36500)) is LicenseStatus.VALID
    assert document.grace_ends_at is None


def test_skew_accepts_slightly_slow_clock(signing_key: SigningKey) -> None:
    document = make_document(signing_key)
    early = START - timedelta(minutes=2)

    assert document.status_at(early, skew=timedelta(minutes=5)) is LicenseStatus.VALID


def test_document_drops_sub_second_precision(signing_key: SigningKey) -> None:
    document = make_document(signing_key, issued_at=START + timedelta(microseconds=7))

    assert document.issued_at == START


@pytest.mark.parametrize(
    "changes",
    [
        {"customer": "Acme Corp"},
        {"product": ""},
        {"license_id": "lic 1"},
        {"expires_at": START},
        {"grace_days": -1},
        {"entitlements": frozenset({"Reports!"})},
        {"limits": {"users": -5}},
        {"issued_at": START.replace(tzinfo=None)},
    ],
)
def test_document_refuses_invalid_members(
    signing_key: SigningKey, changes: dict[str, object]
) -> None:
    with pytest.raises(LicenseFormatError):
        make_document(signing_key, **changes)


def test_timestamps_have_one_spelling() -> None:
    assert format_timestamp(START) == "2025-03-01T12:00:00Z"
    assert parse_timestamp("2025-03-01T12:00:00Z") == START
    for other in ("2025-03-01T12:00:00+00:00", "2025-03-01T12:00:00.0Z"):
        with pytest.raises(LicenseFormatError):
            parse_timestamp(other)


def test_policy_computes_expiry_and_seats() -> None:
    policy = Policy("standard", duration_days=30, limits={"machines": 5})

    assert policy.expiry_for(START) == START + timedelta(days=30)
    assert policy.max_machines == 5
    assert Policy("perpetual", duration_days=None).expiry_for(START) is None


def test_node_locked_policy_allows_one_machine() -> None:
    assert Policy("locked", node_locked=True).max_machines == 1

    with pytest.raises(PolicyError):
        Policy("locked", node_locked=True, limits={"machines": 2})


@pytest.mark.parametrize(
    "changes",
    [
        {"duration_days": 0},
        {"grace_days": -1},
        {"is_trial": True, "duration_days": None},
        {"entitlements": frozenset({"has space"})},
        {"limits": {"users": True}},
    ],
)
def test_policy_refuses_contradictory_terms(changes: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        Policy("bad", **changes)  # type: ignore[arg-type]


def test_policy_round_trips_through_dict() -> None:
    policy = Policy(
        "pro",
        duration_days=365,
        grace_days=14,
        entitlements=frozenset({"sso", "reports"}),
        limits={"users": 50},
        is_trial=False,
    )

    assert Policy.from_dict(policy.to_dict()) == policy
