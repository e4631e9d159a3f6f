"""Fingerprint components, salting and tolerant matching."""

from __future__ import annotations

import shutil
import uuid
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


def _cpuinfo(microcode: str, flags: str) -> str:
    return (
        f"processor\t: 0\nmodel name\t: Xeon 6338\nmicrocode\t: {microcode}\n"
        f"flags\t\t: fpu {flags}\n"
    )


def _add_interface(
    root: Path, name: str, address: str, *, has_device: bool, assign_type: str = "0"
) -> None:
    _write(root, f"sys/class/net/{name}/address", address + "\n")
    _write(root, f"sys/class/net/{name}/addr_assign_type", assign_type)
    if has_device:
        (root / f"sys/class/net/{name}/device").mkdir()


def _remove_interface(root: Path, name: str) -> None:
    shutil.rmtree(root / f"sys/class/net/{name}")


@pytest.fixture
def system_root(tmp_path: Path) -> Path:
    """A file tree laid out like the parts of Linux the readers look at."""
    _write(tmp_path, "etc/machine-id", "4C4C4544004D3510804BB4C04F503032\n")
    _write(tmp_path, "sys/class/dmi/id/product_uuid", "4C4C4544-004D-3510\n")
    _write(tmp_path, "proc/sys/kernel/hostname", "Plant-A-App01\n")
    _write(tmp_path, "proc/cpuinfo", _cpuinfo("0xd0003a5", "sse4_2 avx2"))
    _write(tmp_path, "proc/sys/kernel/random/boot_id", str(uuid.uuid4()))
    _write(tmp_path, "proc/sys/kernel/osrelease", "6.1.0-18-amd64\n")
    _write(tmp_path, "proc/uptime", "35.21 61.02\n")
    _write(tmp_path, "etc/os-release", 'VERSION_ID="12"\n')
    interfaces = {  # name: address, backed by a device, how it was assigned
        "eth0": ("52:54:00:12:34:56", True, "0"),
        "eth1": ("52:54:00:00:00:01", True, "0"),
        "wlan0": ("da:a1:19:00:00:01", True, "3"),
        "docker0": ("02:42:ac:11:00:01", False, "3"),
        "lo": ("00:00:00:00:00:00", False, "0"),
    }
    for name, (address, has_device, assign_type) in interfaces.items():
        _add_interface(
            tmp_path, name, address, has_device=has_device, assign_type=assign_type
        )
    return tmp_path


def _fingerprint_of(root: Path) -> Fingerprint:
    return machine_fingerprint(PRODUCT, root=root)


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


def test_fingerprint_hashes_hide_raw_values() -> None:
    components = _changed().components

    assert not set(MACHINE_VALUES.values()) & set(components.values())


def test_fingerprint_hashes_differ_between_products() -> None:
    other = Fingerprint.from_values("another-product", MACHINE_VALUES)

    assert not set(other.components.values()) & set(_changed().components.values())


def test_fingerprint_ignores_case_and_spacing() -> None:
    assert _changed(hostname="  PLANT-A-APP01 ") == _changed()


def test_reboot_keeps_the_fingerprint(system_root: Path) -> None:
    before = _fingerprint_of(system_root)
    _write(system_root, "proc/sys/kernel/random/boot_id", str(uuid.uuid4()))
    _write(system_root, "proc/uptime", "4.02 7.90\n")

    assert _fingerprint_of(system_root) == before


def test_kernel_and_package_upgrade_keep_the_fingerprint(system_root: Path) -> None:
    """New kernel, microcode and CPU flags; interfaces get predictable names."""
    before = _fingerprint_of(system_root)
    _write(system_root, "proc/sys/kernel/osrelease", "6.12.9-1-amd64\n")
    _write(system_root, "etc/os-release", 'VERSION_ID="13"\n')
    _write(system_root, "proc/cpuinfo", _cpuinfo("0xd0003e7", "sse4_2 avx2 ibpb"))
    _remove_interface(system_root, "eth0")
    _add_interface(system_root, "enp1s0", "52:54:00:12:34:56", has_device=True)

    assert _fingerprint_of(system_root) == before


def test_virtual_interfaces_leave_the_fingerprint(system_root: Path) -> None:
    before = _fingerprint_of(system_root)
    _add_interface(system_root, "veth3f2a1b", "6e:1d:8a:00:00:01", has_device=False)
    _add_interface(system_root, "br-5d4c", "02:42:9c:00:00:02", has_device=False)
    _remove_interface(system_root, "docker0")

    assert _fingerprint_of(system_root) == before


def test_interface_order_change_keeps_the_fingerprint(system_root: Path) -> None:
    """The two NICs swap names, as enumeration order may at boot."""
    before = _fingerprint_of(system_root)
    _remove_interface(system_root, "eth0")
    _remove_interface(system_root, "eth1")
    _add_interface(system_root, "eth0", "52:54:00:00:00:01", has_device=True)
    _add_interface(system_root, "eth1", "52:54:00:12:34:56", has_device=True)

    assert _fingerprint_of(system_root) == before


def test_added_network_card_still_matches(system_root: Path) -> None:
    before = _fingerprint_of(system_root)
    _add_interface(system_root, "eth2", "52:54:00:99:00:01", has_device=True)

    after = _fingerprint_of(system_root)

    assert after != before
    assert MatchRule().matches(before, after)


@pytest.mark.parametrize(
    "component", ["machine_id", "dmi_uuid", "mac", "hostname", "cpu_model"]
)
def test_match_tolerates_one_changed_component(component: str) -> None:
    assert MatchRule().matches(_changed(), _changed(**{component: "changed"}))


@pytest.mark.parametrize(
    "changes",
    [
        {"machine_id": "1" * 32, "dmi_uuid": "changed"},
        {"machine_id": "1" * 32, "hostname": "x"},
        {"hostname": "x", "mac": "y"},
    ],
)
def test_match_refuses_two_changed_components(changes: dict[str, str]) -> None:
    assert not MatchRule().matches(_changed(), _changed(**changes))


def test_match_refuses_too_few_agreeing_components() -> None:
    """Three of five agree only when the other two are missing, not changed."""
    readable = {key: MACHINE_VALUES[key] for key in ("machine_id", "mac", "hostname")}
    unprivileged = Fingerprint.from_values(PRODUCT, readable)
    fewer = Fingerprint.from_values(PRODUCT, readable | {"hostname": "x"})

    assert MatchRule().matches(_changed(), unprivileged)
    assert not MatchRule().matches(_changed(), fewer)
    assert MatchRule(min_matching=2).matches(_changed(), fewer)


def test_match_refuses_without_agreeing_anchor() -> None:
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


def test_small_reference_tolerates_a_new_hostname_only() -> None:
    """A recreated container gets a new host name; a new machine id is refused."""
    values = {key: MACHINE_VALUES[key] for key in ("machine_id", "hostname")}
    small = Fingerprint.from_values(PRODUCT, values)
    renamed = Fingerprint.from_values(PRODUCT, values | {"hostname": "f3a9c1d2"})
    new_id = Fingerprint.from_values(PRODUCT, values | {"machine_id": "1" * 32})

    assert MatchRule().matches(small, renamed)
    assert not MatchRule().matches(small, new_id)


def test_match_rule_refuses_impossible_settings() -> None:
    with pytest.raises(ValueError, match="max_differing"):
        MatchRule(max_differing=-1)


def test_fingerprint_dict_with_wrong_id_is_refused() -> None:
    data = _changed().to_dict() | {"id": "forged"}

    with pytest.raises(LicenseFormatError):
        Fingerprint.from_dict(data)
