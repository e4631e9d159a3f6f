"""Fingerprint components, salting and tolerant matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from eaf.licensing import (
    Fingerprint,
    FingerprintUnavailableError,
    LicenseFormatError,
    MatchRule,
    machine_fingerprint,
    read_components,
)

from .conftest import MACHINE_VALUES, PRODUCT


def _changed(**values: str) -> Fingerprint:
    return Fingerprint.from_values(PRODUCT, MACHINE_VALUES | values)


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def system_root(tmp_path: Path) -> Path:
    """A file tree laid out like the parts of Linux the readers look at."""
    _write(tmp_path, "etc/machine-id", "4C4C4544004D3510804BB4C04F503032\n")
    _write(tmp_path, "sys/class/dmi/id/product_uuid", "4C4C4544-004D-3510\n")
    _write(tmp_path, "proc/sys/kernel/hostname", "Plant-A-App01\n")
    _write(tmp_path, "proc/cpuinfo", "processor\t: 0\nmodel name\t: Xeon 6338\n")
    interfaces = {  # name: address, backed by a device, how it was assigned
        "eth0": ("52:54:00:12:34:56", True, "0"),
        "eth1": ("52:54:00:00:00:01", True, "0"),
        "wlan0": ("da:a1:19:00:00:01", True, "3"),
        "docker0": ("02:42:ac:11:00:01", False, "3"),
        "lo": ("00:00:00:00:00:00", False, "0"),
    }
    for name, (address, has_device, assign_type) in interfaces.items():
        _write(tmp_path, f"sys/class/net/{name}/address", address + "\n")
        _write(tmp_path, f"sys/class/net/{name}/addr_assign_type", assign_type)
        if has_device:
            (tmp_path / f"sys/class/net/{name}/device").mkdir()
    return tmp_path


def test_components_are_read_from_the_system(system_root: Path) -> None:
    values = read_components(root=system_root)

    assert values == {
        "machine_id": "4c4c4544004d3510804bb4c04f503032",
        "dmi_uuid": "4c4c4544-004d-3510",
        "mac": "52:54:00:00:00:01,52:54:00:12:34:56",
        "hostname": "plant-a-app01",
        "cpu_model": "Xeon 6338",
    }


def test_placeholder_dmi_uuid_is_ignored(system_root: Path) -> None:
    placeholder = "03000200-0400-0500-0006-000700080009"
    _write(system_root, "sys/class/dmi/id/product_uuid", placeholder)

    assert "dmi_uuid" not in read_components(root=system_root)


def test_unreadable_system_yields_no_fingerprint(tmp_path: Path) -> None:
    with pytest.raises(FingerprintUnavailableError):
        machine_fingerprint(PRODUCT, root=tmp_path)


def test_fingerprint_is_stable_for_same_values() -> None:
    assert _changed() == Fingerprint.from_values(PRODUCT, dict(MACHINE_VALUES))


def test_fingerprint_hashes_hide_raw_values() -> None:
    components = _changed().components

    assert not set(MACHINE_VALUES.values()) & set(components.values())


def test_fingerprint_hashes_differ_between_products() -> None:
    other = Fingerprint.from_values("another-product", MACHINE_VALUES)

    assert not set(other.components.values()) & set(_changed().components.values())


def test_fingerprint_ignores_case_and_spacing() -> None:
    assert _changed(hostname="  PLANT-A-APP01 ") == _changed()


def test_match_tolerates_changed_hostname_and_mac() -> None:
    assert MatchRule().matches(_changed(), _changed(hostname="x", mac="y"))


def test_match_refuses_too_few_agreeing_components() -> None:
    moved = _changed(hostname="x", mac="y", cpu_model="z")

    assert not MatchRule().matches(_changed(), moved)
    assert MatchRule(min_matching=2).matches(_changed(), moved)


def test_match_refuses_changed_machine_id() -> None:
    """A cloned VM keeps hostname, MAC and CPU but gets a new machine id."""
    assert not MatchRule().matches(_changed(), _changed(machine_id="1" * 32))


def test_match_refuses_without_shared_anchor() -> None:
    without_anchors = Fingerprint.from_values(
        PRODUCT, {key: MACHINE_VALUES[key] for key in ("mac", "hostname", "cpu_model")}
    )

    assert not MatchRule().matches(_changed(), without_anchors)


def test_match_accepts_small_reference_in_full() -> None:
    """A container with only machine-id and hostname matches itself."""
    small = Fingerprint.from_values(
        PRODUCT, {key: MACHINE_VALUES[key] for key in ("machine_id", "hostname")}
    )

    assert MatchRule().matches(small, small)
    assert MatchRule().matches(small, _changed())


def test_fingerprint_dict_with_wrong_id_is_refused() -> None:
    data = _changed().to_dict() | {"id": "forged"}

    with pytest.raises(LicenseFormatError):
        Fingerprint.from_dict(data)
