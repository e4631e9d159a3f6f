"""The license aggregate: lifecycle, seats, and replay from events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from eaf.licensing import (
    ActivationNotFoundError,
    Fingerprint,
    License,
    LicenseIssued,
    LicenseRenewed,
    LicenseState,
    LicenseStateError,
    MachineActivated,
    Policy,
    SeatLimitExceededError,
    UnsafeTextError,
    event_from_payload,
    event_to_payload,
)

from .conftest import MACHINE_VALUES, PRODUCT, START

POLICY = Policy(
    "pro",
    duration_days=365,
    grace_days=14,
    entitlements=frozenset({"reports"}),
    limits={"machines": 2},
)


def _license(policy: Policy = POLICY) -> License:
    return License.issue(
        "lic-0001", product=PRODUCT, customer="acme", policy=policy, at=START
    )


def _machine(number: int) -> Fingerprint:
    values = {**MACHINE_VALUES, "machine_id": f"{number:032x}"}
    return Fingerprint.from_values(PRODUCT, values | {"dmi_uuid": f"uuid-{number}"})


def test_issue_records_license_issued() -> None:
    license_ = _license()

    (event,) = license_.collect_events()

    assert isinstance(event, LicenseIssued)
    assert event.expires_at == START + timedelta(days=365)
    assert license_.state is LicenseState.ACTIVE
    assert license_.pending_events == ()


def test_activation_takes_one_seat_per_machine() -> None:
    license_ = _license()

    license_.activate_machine(_machine(1), at=START)
    license_.activate_machine(_machine(2), at=START)

    assert license_.seats_used == 2
    assert not license_.has_seats_left


def test_activation_beyond_seat_limit_is_refused() -> None:
    license_ = _license()
    license_.activate_machine(_machine(1), at=START)
    license_.activate_machine(_machine(2), at=START)

    with pytest.raises(SeatLimitExceededError) as caught:
        license_.activate_machine(_machine(3), at=START)

    assert caught.value.status == 409
    assert license_.seats_used == 2


def test_activating_same_machine_twice_counts_one_seat() -> None:
    license_ = _license()
    first = license_.activate_machine(_machine(1), at=START)
    license_.collect_events()

    again = license_.activate_machine(_machine(1), at=START + timedelta(days=1))

    assert again == first
    assert license_.seats_used == 1
    assert license_.pending_events == ()


def test_activation_matches_machine_with_changed_hostname() -> None:
    license_ = _license()
    first = license_.activate_machine(_machine(1), at=START)
    renamed = Fingerprint(dict(_machine(1).components) | {"hostname": "renamed"})

    assert license_.activate_machine(renamed, at=START) == first
    assert license_.seats_used == 1


def test_deactivation_frees_a_seat() -> None:
    license_ = _license()
    license_.activate_machine(_machine(1), at=START)
    activation = license_.activate_machine(_machine(2), at=START)

    license_.deactivate_machine(activation.activation_id, at=START)

    assert license_.has_seats_left
    license_.activate_machine(_machine(3), at=START)


def test_deactivating_unknown_activation_is_refused() -> None:
    with pytest.raises(ActivationNotFoundError):
        _license().deactivate_machine("nope", at=START)


def test_node_locked_license_holds_one_machine() -> None:
    license_ = _license(Policy("locked", node_locked=True))
    license_.activate_machine(_machine(1), at=START)

    with pytest.raises(SeatLimitExceededError):
        license_.activate_machine(_machine(2), at=START)


def test_suspended_license_refuses_activation_until_reinstated() -> None:
    license_ = _license()
    license_.suspend("invoice overdue", at=START)

    with pytest.raises(LicenseStateError):
        license_.activate_machine(_machine(1), at=START)

    license_.reinstate(at=START)
    license_.activate_machine(_machine(1), at=START)


def test_revoked_license_refuses_every_change() -> None:
    license_ = _license()
    license_.revoke("contract ended", at=START)

    for command in (
        lambda: license_.reinstate(at=START),
        lambda: license_.suspend("again", at=START),
        lambda: license_.renew(at=START),
        lambda: license_.revoke("again", at=START),
    ):
        with pytest.raises(LicenseStateError):
            command()


def test_renew_extends_from_current_expiry() -> None:
    license_ = _license()

    license_.renew(at=START + timedelta(days=300))

    assert license_.expires_at == START + timedelta(days=730)


def test_renew_after_lapse_starts_from_now() -> None:
    license_ = _license()
    later = START + timedelta(days=500)

    license_.renew(at=later)

    assert license_.expires_at == later + timedelta(days=365)


def test_extend_refuses_earlier_expiry() -> None:
    license_ = _license()

    with pytest.raises(LicenseStateError):
        license_.extend_to(START + timedelta(days=10), at=START)


def test_expired_license_refuses_activation() -> None:
    license_ = _license()

    with pytest.raises(LicenseStateError, match="expired"):
        license_.activate_machine(_machine(1), at=START + timedelta(days=400))


def test_replay_of_events_rebuilds_the_same_state() -> None:
    license_ = _license()
    license_.activate_machine(_machine(1), at=START)
    license_.renew(at=START)
    license_.suspend("audit", at=START)
    events = license_.collect_events()

    stored = [(event.type, event_to_payload(event)) for event in events]
    replayed = License.from_events(event_from_payload(*item) for item in stored)

    assert replayed.version == license_.version == len(events)
    assert replayed.expires_at == license_.expires_at
    assert replayed.state is LicenseState.SUSPENDED
    assert replayed.activations == license_.activations
    assert replayed.policy == POLICY


def test_event_payloads_are_json_ready() -> None:
    license_ = _license()
    license_.activate_machine(_machine(1), at=START)
    _, activated = license_.collect_events()

    payload = event_to_payload(activated)

    assert isinstance(activated, MachineActivated)
    assert payload["occurred_at"] == "2025-03-01T12:00:00+00:00"
    assert payload["fingerprint"]["id"] == activated.fingerprint.id


def test_renewed_event_records_both_expiries() -> None:
    license_ = _license()
    license_.collect_events()

    license_.renew(at=START)

    (event,) = license_.collect_events()
    assert isinstance(event, LicenseRenewed)
    assert event.previous_expires_at == START + timedelta(days=365)


def test_stream_must_start_with_issue() -> None:
    with pytest.raises(LicenseStateError):
        License.from_events([])


@pytest.mark.parametrize(
    ("change", "offset", "expected"),
    [
        (None, timedelta(seconds=-1), "not_yet_valid"),
        (None, timedelta(days=1), "valid"),
        (None, timedelta(days=366), "in_grace"),
        (None, timedelta(days=380), "expired"),
        ("suspend", timedelta(days=1), "suspended"),
        ("revoke", timedelta(days=1), "revoked"),
        ("revoke", timedelta(days=380), "revoked"),
    ],
)
def test_overall_status_puts_lifecycle_before_window(
    change: str | None, offset: timedelta, expected: str
) -> None:
    license_ = _license()
    if change == "suspend":
        license_.suspend("unpaid", at=START)
    elif change == "revoke":
        license_.revoke("fraud", at=START)

    assert license_.overall_status(START + offset) == expected


@pytest.mark.parametrize("reason", ["late\x1b[2J", "a\u202eb", "tab\there"])
def test_lifecycle_reason_refuses_unsafe_text(reason: str) -> None:
    license_ = _license()

    with pytest.raises(UnsafeTextError, match="reason"):
        license_.suspend(reason, at=START)
    with pytest.raises(UnsafeTextError, match="reason"):
        license_.revoke(reason, at=START)
    assert license_.state is LicenseState.ACTIVE
