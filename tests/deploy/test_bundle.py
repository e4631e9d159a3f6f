"""The air-gapped bundle (deploy/bundle.sh): contents, manifest, refusals.

Images are saved by a stand-in engine command that writes a small file per
image, so these checks need no container engine; deploy/rehearse.sh builds a
real bundle and installs from it.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUNDLE_SCRIPT = REPO / "deploy" / "bundle.sh"
EAF_IMAGE = "localhost/eaf:v9"

STAND_IN_ENGINE = """#!/bin/sh
# Writes "image REF" where a real engine would write the image archive.
out=""; ref=""
shift
while [ $# -gt 0 ]; do
    case "$1" in -o) out="$2"; shift ;; --format) shift ;; *) ref="$1" ;; esac
    shift
done
printf 'image %s\\n' "$ref" > "$out"
"""


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    (folder / "eaf-9.9.9-py3-none-any.whl").write_bytes(b"eaf wheel")
    (folder / "typer-0.12.0-py3-none-any.whl").write_bytes(b"typer wheel")
    return folder


@pytest.fixture
def engine(tmp_path: Path) -> Path:
    script = tmp_path / "engine"
    script.write_text(STAND_IN_ENGINE)
    script.chmod(0o755)
    return script


def run_bundle(*args: str | Path) -> subprocess.CompletedProcess[str]:
    argv = [str(BUNDLE_SCRIPT), *map(str, args)]
    env = {**os.environ, "EAF_BUNDLE_GZIP_LEVEL": "1"}
    return subprocess.run(
        argv, capture_output=True, text=True, check=False, timeout=120, env=env
    )


def build_bundle(tmp_path: Path, wheelhouse: Path, engine: Path) -> Path:
    output = tmp_path / "out"
    result = run_bundle(
        "--version", "9.9.9", "--eaf-image", EAF_IMAGE,
        "--wheelhouse", wheelhouse, "--engine", engine,
        "--output", output, "--no-wheel-check",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return output / "eaf-bundle-9.9.9.tar.gz"


def listed_paths(wheelhouse: Path) -> list[str]:
    result = run_bundle("--list", "--eaf-image", EAF_IMAGE, "--wheelhouse", wheelhouse)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_list_names_everything_an_offline_site_needs(wheelhouse: Path) -> None:
    paths = set(listed_paths(wheelhouse))

    assert {
        "INSTALL.md",
        "SHA256SUMS",
        "images/IMAGES",
        "images/eaf_v9.tar",
        "images/eaf-postgres_bookworm.tar",
        "images/eaf-nats_bookworm.tar",
        "images/eaf-proxy_bookworm.tar",
        "wheelhouse/eaf-9.9.9-py3-none-any.whl",
        "wheelhouse/typer-0.12.0-py3-none-any.whl",
        "compose/compose.prod.yml",
        "compose/compose.dev.yml",
        "compose/haproxy/haproxy.cfg",
        "ansible/site.yml",
        "ansible/upgrade.yml",
        "ansible/rollback.yml",
        "ansible/ansible.cfg",
        "ansible/library/eaf_compose_service.py",
        "ansible/roles/eaf/tasks/main.yml",
        "ansible/inventories/production/hosts.yml",
        "smoke.py",
        "make-certs.sh",
        "docs/operations.md",
    } <= paths


def test_list_leaves_out_site_secrets_and_rehearsal(wheelhouse: Path) -> None:
    paths = listed_paths(wheelhouse)

    assert not [p for p in paths if p.startswith("compose/config/")]
    assert not [p for p in paths if "/tls/" in p or p.startswith("tls/")]
    assert not [p for p in paths if "inventories/rehearsal" in p]


def test_archive_holds_exactly_the_listed_files(
    tmp_path: Path, wheelhouse: Path, engine: Path
) -> None:
    archive = build_bundle(tmp_path, wheelhouse, engine)

    with tarfile.open(archive) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]

    assert all(name.startswith("eaf-bundle-9.9.9/") for name in names)
    inside = sorted(name.split("/", 1)[1] for name in names)
    assert inside == sorted(listed_paths(wheelhouse))


def test_manifest_checksums_every_other_file(
    tmp_path: Path, wheelhouse: Path, engine: Path
) -> None:
    archive = build_bundle(tmp_path, wheelhouse, engine)
    unpacked = tmp_path / "site"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    root = unpacked / "eaf-bundle-9.9.9"

    manifest: dict[str, str] = {}
    for line in (root / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        manifest[name] = digest
    files = {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and path.name != "SHA256SUMS"
    }

    assert set(manifest) == files
    for name, digest in manifest.items():
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest


def test_archive_checksum_file_matches(
    tmp_path: Path, wheelhouse: Path, engine: Path
) -> None:
    archive = build_bundle(tmp_path, wheelhouse, engine)

    digest, name = archive.with_name(archive.name + ".sha256").read_text().split()

    assert name == archive.name
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == digest


def test_install_guide_names_every_image(
    tmp_path: Path, wheelhouse: Path, engine: Path
) -> None:
    archive = build_bundle(tmp_path, wheelhouse, engine)
    with tarfile.open(archive) as tar:
        guide = tar.extractfile("eaf-bundle-9.9.9/INSTALL.md")
        assert guide is not None
        text = guide.read().decode()
        images = tar.extractfile("eaf-bundle-9.9.9/images/IMAGES")
        assert images is not None
        refs = [line.split("\t") for line in images.read().decode().splitlines()]

    assert not re.search(r"@[A-Z_]+@", text), "a placeholder was left"
    assert "sha256sum -c" in text
    for file_name, ref in refs:
        assert f"`images/{file_name}` | `{ref}`" in text
    assert f"eaf_image={EAF_IMAGE}" in text


def test_image_saved_with_the_configured_engine(
    tmp_path: Path, wheelhouse: Path, engine: Path
) -> None:
    archive = build_bundle(tmp_path, wheelhouse, engine)

    with tarfile.open(archive) as tar:
        saved = tar.extractfile("eaf-bundle-9.9.9/images/eaf_v9.tar")
        assert saved is not None

        assert saved.read().decode() == f"image {EAF_IMAGE}\n"


def test_bundle_refuses_an_image_given_by_digest(wheelhouse: Path) -> None:
    image = "ghcr.io/acme/eaf@sha256:" + "0" * 64

    result = run_bundle("--list", "--eaf-image", image, "--wheelhouse", wheelhouse)

    assert result.returncode == 2
    assert "by tag, not by digest" in result.stderr


def test_bundle_refuses_a_wheelhouse_without_eaf(tmp_path: Path) -> None:
    result = run_bundle("--list", "--wheelhouse", tmp_path)

    assert result.returncode == 2
    assert "no eaf wheel" in result.stderr


def test_wheel_check_fails_when_eaf_cannot_resolve(
    tmp_path: Path, wheelhouse: Path, engine: Path
) -> None:
    """The offline resolve catches a wheelhouse that pip cannot install from."""
    result = run_bundle(
        "--version", "9.9.9", "--wheelhouse", wheelhouse,
        "--engine", engine, "--output", tmp_path / "out",
    )  # fmt: skip

    assert result.returncode == 2
    assert "does not install eaf offline" in result.stderr
