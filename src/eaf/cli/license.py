"""`eaf license`: signing keys, license files and machine activation.

Vendor-side commands (keygen, keys, revoke-key, issue, show, respond, install)
work on the database like the other operator commands; `request`, `verify`
and `install-certificate` run on a customer's machine and need no server at
all.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.table import Table
from rich.text import Text

from eaf.application.commands import run_command
from eaf.cli._common import (
    DataDirOption,
    console,
    fail,
    handle_errors,
    run_async,
    safe_text,
    settings_for,
)
from eaf.cli._platform import open_store
from eaf.cli.license_catalog import policies, products
from eaf.context import ExecutionContext
from eaf.licensing import (
    ActivationRequest,
    KeyRing,
    LicenseFormatError,
    LicenseStatus,
    LicensingError,
    MachineMismatchError,
    machine_fingerprint,
    read_activation_request,
    read_license_file,
    read_machine_certificate,
    verify_license,
    write_activation_request,
    write_license_file,
    write_machine_certificate,
)
from eaf.licensing.activation import (
    CERTIFICATE_TYP,
    certificate_path_for,
    install_machine_certificate,
)
from eaf.licensing.application import Licensing, licensing_key_secret
from eaf.licensing.domain import _codec
from eaf.licensing.domain.machine import STANDARD_COMPONENTS
from eaf.licensing.signing import parse_jws
from eaf.runtime.launcher import signing_secret
from eaf.settings import Settings

app = typer.Typer(
    help="Licenses: signing keys, license files, machine activation.",
    no_args_is_help=True,
)

app.add_typer(products, name="product")
app.add_typer(policies, name="policy")

T = TypeVar("T")

ExistingFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True)
]
OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write to this file")
]


@contextlib.asynccontextmanager
async def _licensing(settings: Settings) -> AsyncIterator[Licensing]:
    async with open_store(settings) as (_, db, store):
        secret = licensing_key_secret(signing_secret(settings))
        vendor = settings.bootstrap_tenant
        yield Licensing(db, store, vendor=vendor, key_secret=secret)


def _on_database(
    data_dir: Path | None, command: Callable[[Licensing], Awaitable[T]]
) -> T:
    """Run ``command`` against the vendor's licensing data, as this OS user."""
    settings = settings_for(data_dir)
    context = ExecutionContext(
        tenant_id=settings.bootstrap_tenant, actor=f"cli:{getpass.getuser()}"
    )

    async def run() -> T:
        async with _licensing(settings) as licensing:
            return await run_command(context, lambda: command(licensing), retries=0)

    return run_async(run())


def _check_out(out: Path | None) -> None:
    """Refuse an --out path that cannot be written, before doing anything."""
    if out is None:
        return
    if out.is_dir():
        raise fail(f"--out {out} is a directory; name a file", 2)
    parent = out.parent
    if not parent.is_dir():
        raise fail(f"--out {out}: directory {parent} does not exist", 2)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise fail(f"--out {out}: directory {parent} is not writable", 2)


def _emit(text: str, out: Path | None, what: str) -> None:
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text)
    console.print(f"{what} written to {out}")


@app.command()
@handle_errors
def keygen(data_dir: DataDirOption = None) -> None:
    """Create a signing key; the active one is retired (a rotation)."""
    key = _on_database(data_dir, lambda lic: lic.keys.generate_key())
    console.print(f"active signing key {key['kid']}")
    if key["retired"]:
        console.print(f"retired {key['retired']} (its files keep verifying)")


@app.command()
@handle_errors
def keys(out: OutOption = None, data_dir: DataDirOption = None) -> None:
    """Print the published key set (JWKS) that products pin at build time."""
    _check_out(out)
    jwks = _on_database(data_dir, lambda lic: lic.keys.published_keys())
    _emit(json.dumps(jwks, indent=2) + "\n", out, "key set")


@app.command(name="revoke-key")
@handle_errors
def revoke_key(
    kid: Annotated[str, typer.Argument(help="The key id to revoke")],
    reason: Annotated[str, typer.Option(help="Why, for the audit trail")] = "",
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a signing key: nothing it signed verifies any more."""
    _on_database(data_dir, lambda lic: lic.keys.revoke_key(kid, reason))
    console.print(f"revoked {kid}; re-issue the licenses it signed")


@app.command()
@handle_errors
def issue(
    customer: Annotated[str, typer.Option(help="Tenant slug of the licensee")],
    policy: Annotated[str, typer.Option(help="Policy id to issue under")],
    license_id: Annotated[str | None, typer.Option("--id", help="License id")] = None,
    out: OutOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Issue a license and write its signed file."""
    _check_out(out)

    async def command(licensing: Licensing) -> str:
        issued = await licensing.licenses.issue(customer, policy, license_id)
        return await licensing.licenses.license_file(issued.license_id)

    token = _on_database(data_dir, command)
    if out is None:
        typer.echo(token)
        return
    write_license_file(out, token)
    console.print(f"license file written to {out}")


@app.command()
@handle_errors
def show(
    license_id: Annotated[str, typer.Argument(help="The license id")],
    data_dir: DataDirOption = None,
) -> None:
    """Show a license, where it stands and the machines holding its seats."""
    license_ = _on_database(data_dir, lambda lic: lic.licenses.get(license_id))
    now = datetime.now(UTC)
    table = Table("field", "value", show_header=False)
    expires = license_.expires_at.isoformat() if license_.expires_at else "never"
    seats = license_.policy.max_machines
    for field, value in (
        ("license", license_.license_id),
        ("product", license_.product),
        ("customer", license_.customer),
        ("policy", license_.policy.name),
        ("state", str(license_.state)),
        ("status", license_.overall_status(now)),
        ("expires", expires),
        ("seats", f"{license_.seats_used} of {seats or 'unlimited'}"),
    ):
        table.add_row(field, Text(safe_text(value)))
    console.print(table)
    for activation in license_.activations.values():
        console.print(f"  machine {activation.activation_id}")


@app.command()
@handle_errors
def verify(
    file: ExistingFile,
    keys_file: Annotated[
        Path,
        typer.Option("--keys", exists=True, dir_okay=False, help="JWKS to trust"),
    ],
    product: Annotated[str | None, typer.Option(help="Expected product")] = None,
) -> None:
    """Verify a license file offline against a key set; exit 1 if unusable."""
    keyring = _read_keyring(keys_file)
    try:
        document = verify_license(read_license_file(file), keyring).document
    except LicensingError as exc:
        raise fail(f"{file} does not verify: {exc}") from None
    status = document.status_at(datetime.now(UTC))
    expires = document.expires_at
    shown_expiry = _codec.format_timestamp(expires) if expires else "never"
    console.print(f"license  {document.license_id} ({document.product})")
    console.print(f"customer {document.customer}")
    console.print(f"signed   by key {document.key_id}")
    console.print(f"expires  {shown_expiry}")
    console.print(f"limits   {dict(document.limits)}")
    console.print(f"status   {status}")
    if product is not None and document.product != product:
        raise fail(f"the license is for {document.product!r}, not {product!r}")
    if status in (LicenseStatus.EXPIRED, LicenseStatus.NOT_YET_VALID):
        raise fail(f"the license is {status}")


def _read_keyring(keys_file: Path) -> KeyRing:
    """The key set in ``keys_file``; a bad file is named as the culprit."""
    try:
        return KeyRing.from_jwks(keys_file.read_bytes())
    except LicensingError as exc:
        raise fail(f"--keys {keys_file} is not a usable key set: {exc}") from None


def _component_values(components: list[str]) -> dict[str, str] | None:
    values = {}
    for item in components:
        name, separator, value = item.partition("=")
        if not separator or not name:
            raise fail(f"--component takes NAME=VALUE, not {item!r}", 2)
        if name not in STANDARD_COMPONENTS:
            known = ", ".join(STANDARD_COMPONENTS)
            raise fail(f"unknown component {name} (known: {known})", 2)
        values[name] = value
    return values or None


ComponentsOption = Annotated[
    list[str],
    typer.Option(
        "--component",
        help="NAME=VALUE instead of reading this machine (repeatable)",
    ),
]


@app.command()
@handle_errors
def request(
    license_id: Annotated[str, typer.Option("--license", help="License id")],
    product: Annotated[str, typer.Option(help="Product name")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Request file to write")],
    components: ComponentsOption = [],  # noqa: B006 - Typer only reads it
) -> None:
    """Write an offline activation request for this machine (no server needed)."""
    _check_out(out)
    fingerprint = machine_fingerprint(product, _component_values(components))
    activation = ActivationRequest.create(
        license_id, product, fingerprint, now=datetime.now(UTC)
    )
    write_activation_request(out, activation)
    console.print(f"request written to {out}; carry it to the vendor")


@app.command()
@handle_errors
def respond(
    request_file: ExistingFile,
    out: Annotated[Path, typer.Option("--out", "-o", help="Response file")],
    data_dir: DataDirOption = None,
) -> None:
    """Answer an offline request file with a signed machine certificate."""
    _check_out(out)
    activation = read_activation_request(request_file)
    result = _on_database(
        data_dir, lambda lic: lic.licenses.activate(activation, offline=True)
    )
    write_machine_certificate(out, result.certificate)
    console.print(
        f"certificate for machine {result.activation_id} written to {out}; "
        "install it beside the license file"
    )


@app.command()
@handle_errors
def install(file: ExistingFile, data_dir: DataDirOption = None) -> None:
    """Install the license EAF itself runs under (limits users, for example)."""
    text = read_license_file(file)
    if _signed_type(text) == CERTIFICATE_TYP:
        raise fail(
            f"{file} is a machine certificate, not a license; install it on the "
            "site with `eaf license install-certificate FILE --license LICENSE "
            "--keys JWKS`",
            2,
        )
    installed_by = f"cli:{getpass.getuser()}"
    current = _on_database(
        data_dir,
        lambda lic: lic.platform_license.install(text, installed_by=installed_by),
    )
    console.print(
        f"installed license {current['license_id']} ({current['status']}), "
        f"limits {current['limits']}"
    )


def _signed_type(text: str) -> object:
    """The ``typ`` of a signed file's header, unverified; ``None`` if unreadable."""
    try:
        return parse_jws(text).header.get("typ")
    except LicenseFormatError:
        return None


@app.command(name="install-certificate")
@handle_errors
def install_certificate(
    file: ExistingFile,
    license_file: Annotated[
        Path,
        typer.Option(
            "--license",
            exists=True,
            dir_okay=False,
            help="The installed license file the certificate belongs to",
        ),
    ],
    keys_file: Annotated[
        Path,
        typer.Option("--keys", exists=True, dir_okay=False, help="JWKS to trust"),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Where to install [default: beside it]"),
    ] = None,
    components: ComponentsOption = [],  # noqa: B006 - Typer only reads it
) -> None:
    """Install a machine certificate (an offline activation response) on this site.

    It must verify with the key set, belong to the license, and have been
    issued to this machine; otherwise nothing is written and the exit code is 1.
    """
    destination = out or certificate_path_for(license_file)
    _check_out(destination)
    values = _component_values(components)
    keyring = _read_keyring(keys_file)
    try:
        verify_license(read_license_file(license_file), keyring)
    except LicensingError as exc:
        raise fail(f"--license {license_file} does not verify: {exc}") from None
    try:
        certificate = install_machine_certificate(
            read_machine_certificate(file),
            license_file,
            keyring,
            now=datetime.now(UTC),
            values=values,
            destination=destination,
        )
    except MachineMismatchError as exc:
        raise fail(
            f"{file} was not installed: {exc}; make the activation request on "
            "this machine and install the response to that request"
        ) from None
    except LicensingError as exc:
        raise fail(f"{file} was not installed: {exc}") from None
    console.print(
        f"machine certificate for license {certificate.license_id} (machine "
        f"{certificate.activation_id}) installed at {destination}"
    )
