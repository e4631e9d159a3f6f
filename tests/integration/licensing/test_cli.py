"""`eaf license` against a real database, and offline on files."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from eaf.cli.main import app
from eaf.db.pool import Database
from eaf.eventstore.postgres import PostgresEventStore
from eaf.licensing import (
    KeyRing,
    LicenseValidator,
    Policy,
    read_machine_certificate,
    verify_machine_certificate,
)
from eaf.licensing.application import Licensing
from tests.integration.licensing.conftest import PRODUCT, VENDOR, machine
from tests.support.servers import ClonedDatabase, Servers

CLI_SECRET = "cli-test-secret-0123456789"
MACHINE_7 = [
    "--component",
    f"machine_id={7:032x}",
    "--component",
    f"dmi_uuid=00000000-0000-4000-8000-{7:012x}",
    "--component",
    "hostname=host-7",
    "--component",
    "mac=52:54:00:00:00:07",
]
MACHINE_8 = [item.replace("7", "8") if "=" in item else item for item in MACHINE_7]


@pytest.fixture
def cli(
    database: ClonedDatabase,
    servers: Servers,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> CliRunner:
    """A runner whose commands reach the test database (NATS is never used)."""
    monkeypatch.setenv("EAF_DATABASE_URL", database.owner_dsn)
    monkeypatch.setenv("EAF_DATABASE_RUNTIME_URL", database.runtime_dsn)
    monkeypatch.setenv("EAF_NATS_URL", servers.nats_url)
    monkeypatch.setenv("EAF_SECRET_KEY", CLI_SECRET)
    monkeypatch.setenv("EAF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("EAF_LICENSING_KEY_SECRET", raising=False)
    # Logging would bind the runner's temporary stderr for the whole session.
    monkeypatch.setattr("eaf.cli._common.configure_logging", lambda *_: None)
    return CliRunner()


def create_catalog(database: ClonedDatabase) -> None:
    async def create() -> None:
        db = Database(database.runtime_dsn, min_size=1, max_size=2)
        await db.open()
        try:
            licensing = Licensing(
                db,
                PostgresEventStore(db),
                vendor=VENDOR,
                key_secret=CLI_SECRET.encode(),
            )
            await licensing.catalog.create_product(PRODUCT)
            node_locked = Policy("orbit-node", node_locked=True)
            await licensing.catalog.create_policy(node_locked, PRODUCT)
            await licensing.catalog.create_product("eaf")
            policy = Policy("eaf-team", limits={"users": 10})
            await licensing.catalog.create_policy(policy, "eaf")
        finally:
            await db.close()

    asyncio.run(create())


def run(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, ["license", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_vendor_and_site_commands_round_trip(
    cli: CliRunner, database: ClonedDatabase, tmp_path: Path
) -> None:
    create_catalog(database)
    keys_file, license_file = tmp_path / "keys.json", tmp_path / "orbit.license"
    request_file, response_file = tmp_path / "request.json", tmp_path / "machine.cert"

    assert "active signing key" in run(cli, "keygen")
    run(cli, "keys", "--out", str(keys_file))
    run(cli, "issue", "--customer", "acme", "--policy", "orbit-node", "--id", "lic-7",
        "--out", str(license_file))  # fmt: skip
    verified = run(cli, "verify", str(license_file), "--keys", str(keys_file))
    run(cli, "request", "--license", "lic-7", "--product", PRODUCT,
        "--out", str(request_file), *MACHINE_7)  # fmt: skip
    run(cli, "respond", str(request_file), "--out", str(response_file))
    run(cli, "respond", str(request_file), "--out", str(response_file))
    shown = run(cli, "show", "lic-7")

    assert "status   valid" in verified
    assert "1 of 1" in shown
    certificate = verify_machine_certificate(
        read_machine_certificate(response_file),
        KeyRing.from_jwks(keys_file.read_bytes()),
        license_id="lic-7",
        product=PRODUCT,
        fingerprint=machine(7),
        now=datetime.now(UTC),
    )
    assert certificate.activation_id == machine(7).id


def test_install_sets_the_platform_license(
    cli: CliRunner, database: ClonedDatabase, tmp_path: Path
) -> None:
    create_catalog(database)
    license_file = tmp_path / "eaf.license"
    run(cli, "keygen")
    run(cli, "issue", "--customer", VENDOR, "--policy", "eaf-team",
        "--out", str(license_file))  # fmt: skip

    output = run(cli, "install", str(license_file))

    assert "'users': 10" in output


def test_verify_fails_on_a_changed_file(
    cli: CliRunner, database: ClonedDatabase, tmp_path: Path
) -> None:
    create_catalog(database)
    keys_file, license_file = tmp_path / "keys.json", tmp_path / "orbit.license"
    run(cli, "keygen")
    run(cli, "keys", "--out", str(keys_file))
    run(cli, "issue", "--customer", "acme", "--policy", "orbit-node",
        "--out", str(license_file))  # fmt: skip
    header, payload, signature = license_file.read_text().strip().split(".")
    changed = "B" if signature[0] == "A" else "A"
    license_file.write_text(f"{header}.{payload}.{changed}{signature[1:]}\n")

    result = cli.invoke(
        app, ["license", "verify", str(license_file), "--keys", str(keys_file)]
    )

    assert result.exit_code == 1
    assert "does not verify" in result.output


def test_server_commands_explain_a_missing_key(
    cli: CliRunner, database: ClonedDatabase
) -> None:
    create_catalog(database)

    result = cli.invoke(
        app, ["license", "issue", "--customer", "acme", "--policy", "orbit-node"]
    )

    assert result.exit_code == 1
    assert "eaf license keygen" in result.output


def test_request_without_machine_id_fails(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(
        app,
        ["license", "request", "--license", "lic-1", "--product", PRODUCT,
         "--out", str(tmp_path / "r.json"), "--component", "hostname=h"],
    )  # fmt: skip

    assert result.exit_code == 1
    assert "machine-id" in result.output


def test_verify_needs_a_key_set(cli: CliRunner, tmp_path: Path) -> None:
    license_file = tmp_path / "x.license"
    license_file.write_text("x\n")

    result = cli.invoke(app, ["license", "verify", str(license_file)])

    assert result.exit_code == 2


def _activate_offline(cli: CliRunner, database: ClonedDatabase, tmp_path: Path) -> None:
    """Vendor: key, key set, node-locked lic-7; site: request; vendor: respond."""
    create_catalog(database)
    run(cli, "keygen")
    run(cli, "keys", "--out", str(tmp_path / "keys.json"))
    run(cli, "issue", "--customer", "acme", "--policy", "orbit-node", "--id", "lic-7",
        "--out", str(tmp_path / "orbit.license"))  # fmt: skip
    run(cli, "request", "--license", "lic-7", "--product", PRODUCT,
        "--out", str(tmp_path / "request.json"), *MACHINE_7)  # fmt: skip
    run(cli, "respond", str(tmp_path / "request.json"),
        "--out", str(tmp_path / "response.cert"))  # fmt: skip


def _install_certificate(cli: CliRunner, tmp_path: Path, *components: str) -> Any:
    return cli.invoke(
        app,
        ["license", "install-certificate", str(tmp_path / "response.cert"),
         "--license", str(tmp_path / "orbit.license"),
         "--keys", str(tmp_path / "keys.json"), *components],
    )  # fmt: skip


def test_installed_response_satisfies_the_validator(
    cli: CliRunner, database: ClonedDatabase, tmp_path: Path
) -> None:
    _activate_offline(cli, database, tmp_path)

    result = _install_certificate(cli, tmp_path, *MACHINE_7)

    assert result.exit_code == 0, result.output
    assert (tmp_path / "orbit.license.cert").exists()
    validator = LicenseValidator.from_files(
        KeyRing.from_jwks((tmp_path / "keys.json").read_bytes()),
        PRODUCT,
        tmp_path / "orbit.license",
        fingerprint=machine(7),
    )
    certificate = validator.validate().certificate
    assert certificate is not None
    assert certificate.activation_id == machine(7).id


def test_response_for_another_machine_is_not_installed(
    cli: CliRunner, database: ClonedDatabase, tmp_path: Path
) -> None:
    _activate_offline(cli, database, tmp_path)

    result = _install_certificate(cli, tmp_path, *MACHINE_8)

    assert result.exit_code == 1
    assert "issued to another machine" in result.output
    assert not (tmp_path / "orbit.license.cert").exists()


def test_install_points_a_certificate_to_the_site_command(
    cli: CliRunner, database: ClonedDatabase, tmp_path: Path
) -> None:
    _activate_offline(cli, database, tmp_path)

    result = cli.invoke(app, ["license", "install", str(tmp_path / "response.cert")])

    assert result.exit_code == 2
    assert "install-certificate" in result.output


def test_response_installs_after_one_component_changed(
    cli: CliRunner, database: ClonedDatabase, tmp_path: Path
) -> None:
    """The host was renamed between request and install: still this machine."""
    _activate_offline(cli, database, tmp_path)
    renamed = [item.replace("host-7", "host-7-renamed") for item in MACHINE_7]

    result = _install_certificate(cli, tmp_path, *renamed)

    assert result.exit_code == 0, result.output
    assert (tmp_path / "orbit.license.cert").exists()


def test_request_names_an_unknown_component(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(
        app,
        ["license", "request", "--license", "lic-1", "--product", PRODUCT,
         "--out", str(tmp_path / "r.json"), *MACHINE_7, "--component", "nosuch=1"],
    )  # fmt: skip

    assert result.exit_code == 2
    assert "unknown component nosuch (known: machine_id, dmi_uuid" in result.output
    assert "machine-id" not in result.output
    assert not (tmp_path / "r.json").exists()


def test_verify_names_a_bad_key_set(cli: CliRunner, tmp_path: Path) -> None:
    license_file, keys_file = tmp_path / "x.license", tmp_path / "keys.json"
    license_file.write_text("a.b.c\n")
    keys_file.write_text("not json\n")

    result = cli.invoke(
        app, ["license", "verify", str(license_file), "--keys", str(keys_file)]
    )

    assert result.exit_code == 1
    assert f"--keys {keys_file} is not a usable key set" in result.output
    assert "does not verify" not in result.output


def test_install_certificate_names_a_bad_key_set(
    cli: CliRunner, tmp_path: Path
) -> None:
    for name in ("response.cert", "orbit.license"):
        (tmp_path / name).write_text("a.b.c\n")
    (tmp_path / "keys.json").write_text('{"keys": "none"}\n')

    result = _install_certificate(cli, tmp_path, *MACHINE_7)

    assert result.exit_code == 1
    assert f"--keys {tmp_path / 'keys.json'} is not a usable key set" in result.output
    assert not (tmp_path / "orbit.license.cert").exists()


def test_install_certificate_names_a_bad_license_file(
    cli: CliRunner, database: ClonedDatabase, tmp_path: Path
) -> None:
    _activate_offline(cli, database, tmp_path)
    license_file = tmp_path / "orbit.license"
    license_file.write_text("not.a.license\n")

    result = _install_certificate(cli, tmp_path, *MACHINE_7)

    assert result.exit_code == 1
    assert f"--license {license_file} does not verify" in result.output
    assert "response.cert" not in result.output
    assert not (tmp_path / "orbit.license.cert").exists()


def test_respond_writes_only_its_result_to_stdout(
    cli: CliRunner, database: ClonedDatabase, tmp_path: Path
) -> None:
    """Run as a process, with logging configured as in real use."""
    _activate_offline(cli, database, tmp_path)
    (tmp_path / "response.cert").unlink()
    environment = {
        **os.environ,
        "EAF_DATABASE_URL": database.owner_dsn,
        "EAF_DATABASE_RUNTIME_URL": database.runtime_dsn,
        "EAF_SECRET_KEY": CLI_SECRET,
        "EAF_DATA_DIR": str(tmp_path / "data"),
        "EAF_LOG_LEVEL": "info",
        "COLUMNS": "400",
    }
    environment.pop("EAF_LICENSING_KEY_SECRET", None)

    process = subprocess.run(
        [sys.executable, "-m", "eaf", "license", "respond",
         str(tmp_path / "request.json"), "--out", str(tmp_path / "response.cert")],
        env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert process.returncode == 0, process.stderr
    assert process.stdout.startswith("certificate for machine")
    assert "{" not in process.stdout
    assert (tmp_path / "response.cert").exists()
