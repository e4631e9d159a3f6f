"""Reading this machine's fingerprint components from a Linux system.

Components, each optional:

``machine_id``
    ``/etc/machine-id`` (or ``/var/lib/dbus/machine-id``), written once at
    install time. An anchor.
``dmi_uuid``
    ``/sys/class/dmi/id/product_uuid``, the firmware's system uuid; usually
    readable by root only. An anchor.
``mac``
    Permanent MAC addresses of device-backed network interfaces, sorted.
``hostname``
    The kernel host name.
``cpu_model``
    The processor model string.

Nothing that changes on reboot or upgrade is read: no boot id, kernel version
or uptime. Every reader takes the file system root, so tests can point it at a
prepared directory, or skip reading altogether by passing values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from eaf.licensing.domain.errors import FingerprintUnavailableError
from eaf.licensing.domain.machine import ANCHOR_COMPONENTS, Fingerprint

ComponentReader = Callable[[Path], str | None]

_MACHINE_ID = re.compile(r"[0-9a-f]{32}")
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_PLACEHOLDER_UUIDS = frozenset(
    {
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        # A value many boards ship with when the vendor never set one.
        "03000200-0400-0500-0006-000700080009",
    }
)
_CPU_MODEL_KEYS = ("model name", "hardware", "model", "cpu model")


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def read_machine_id(root: Path) -> str | None:
    """The systemd/D-Bus machine id, if one has been initialised."""
    for relative in ("etc/machine-id", "var/lib/dbus/machine-id"):
        value = (_read_text(root / relative) or "").lower()
        if _MACHINE_ID.fullmatch(value):
            return value
    return None


def read_dmi_uuid(root: Path) -> str | None:
    """The firmware system uuid, unless unreadable or a known placeholder."""
    value = (_read_text(root / "sys/class/dmi/id/product_uuid") or "").lower()
    if not value or value in _PLACEHOLDER_UUIDS:
        return None
    return value


def _permanent_address(interface: Path) -> str | None:
    # Bridges, veth pairs, tunnels and the loopback have no device link.
    if not (interface / "device").exists():
        return None
    # 0 means the address came with the device; 1 (random) and 3 (set from
    # user space, as Wi-Fi privacy addresses are) would change over time.
    if _read_text(interface / "addr_assign_type") not in (None, "0"):
        return None
    address = (_read_text(interface / "address") or "").lower()
    if _MAC.fullmatch(address) and address != "00:00:00:00:00:00":
        return address
    return None


def read_mac_addresses(root: Path) -> str | None:
    """Permanent MACs of device-backed interfaces, comma-joined and sorted."""
    try:
        interfaces = list((root / "sys/class/net").iterdir())
    except OSError:
        return None
    addresses = {_permanent_address(interface) for interface in interfaces}
    return ",".join(sorted(address for address in addresses if address)) or None


def read_hostname(root: Path) -> str | None:
    """The kernel host name (what ``hostname`` prints)."""
    for relative in ("proc/sys/kernel/hostname", "etc/hostname"):
        value = _read_text(root / relative)
        if value:
            return value.lower()
    return None


def read_cpu_model(root: Path) -> str | None:
    """The processor model from ``/proc/cpuinfo``."""
    text = _read_text(root / "proc/cpuinfo")
    if not text:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, separator, value = line.partition(":")
        if separator:
            fields.setdefault(key.strip().lower(), value.strip())
    return next((fields[key] for key in _CPU_MODEL_KEYS if fields.get(key)), None)


DEFAULT_READERS: Mapping[str, ComponentReader] = {
    "machine_id": read_machine_id,
    "dmi_uuid": read_dmi_uuid,
    "mac": read_mac_addresses,
    "hostname": read_hostname,
    "cpu_model": read_cpu_model,
}


def read_components(
    readers: Mapping[str, ComponentReader] | None = None, root: Path = Path("/")
) -> dict[str, str]:
    """Raw component values; a component that cannot be read is left out."""
    values: dict[str, str] = {}
    for name, reader in (readers or DEFAULT_READERS).items():
        value = reader(root)
        if value:
            values[name] = value
    return values


def machine_fingerprint(
    product: str,
    values: Mapping[str, str] | None = None,
    *,
    readers: Mapping[str, ComponentReader] | None = None,
    root: Path = Path("/"),
) -> Fingerprint:
    """This machine's fingerprint for ``product``.

    Args:
        product: salts the hashes, so products cannot correlate machines.
        values: raw component values to use instead of reading the system.
        readers: component readers to use instead of :data:`DEFAULT_READERS`.
        root: file system root the readers start from.

    Raises:
        FingerprintUnavailableError: neither machine-id nor DMI uuid is known;
            in a container, mount the host's ``/etc/machine-id`` read-only.
    """
    if values is None:
        values = read_components(readers, root)
    if not any(values.get(name) for name in ANCHOR_COMPONENTS):
        raise FingerprintUnavailableError("cannot read machine-id or DMI uuid")
    return Fingerprint.from_values(product, values)
