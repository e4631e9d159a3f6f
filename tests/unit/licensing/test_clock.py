"""The sealed last-seen time file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from eaf.licensing import ClockTamperError, LastSeenStore, LastSeenTamperedError
from eaf.licensing.clock import derive_state_key

from .conftest import PRODUCT, START

KEY = derive_state_key(PRODUCT, "lic-0001")


@pytest.fixture
def store(tmp_path: Path) -> LastSeenStore:
    return LastSeenStore(tmp_path / "last-seen", KEY, timedelta(minutes=10))


def test_advance_records_latest_time(store: LastSeenStore) -> None:
    store.advance(START)
    store.advance(START + timedelta(hours=2))

    assert store.read() == START + timedelta(hours=2)


def test_advance_within_tolerance_keeps_record(store: LastSeenStore) -> None:
    store.advance(START)

    assert store.advance(START - timedelta(minutes=9)) == START
    assert store.read() == START


def test_advance_refuses_clock_set_back(store: LastSeenStore) -> None:
    store.advance(START)

    with pytest.raises(ClockTamperError):
        store.advance(START - timedelta(minutes=11))


def test_edited_time_is_detected(store: LastSeenStore) -> None:
    store.advance(START + timedelta(days=30))
    text = store.path.read_text()

    store.path.write_text(text.replace("2025-03-31", "2025-03-01"))

    with pytest.raises(LastSeenTamperedError):
        store.read()


def test_every_changed_byte_is_detected(store: LastSeenStore) -> None:
    store.advance(START)
    original = store.path.read_bytes()

    for position in range(len(original)):
        changed = bytearray(original)
        changed[position] ^= 0x01
        store.path.write_bytes(bytes(changed))
        with pytest.raises(LastSeenTamperedError):
            store.read()


def test_file_of_another_license_is_detected(store: LastSeenStore) -> None:
    other = LastSeenStore(store.path, derive_state_key(PRODUCT, "lic-0002"))
    other.advance(START)

    with pytest.raises(LastSeenTamperedError):
        store.read()


def test_state_key_mixes_in_vendor_secret() -> None:
    assert derive_state_key(PRODUCT, "lic-0001", b"vendor secret") != KEY
