"""File helpers at the edge: atomic writes of small files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from eaf.licensing.domain.errors import LicenseFormatError


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers never see half a file.

    The file is created with mode 0600 (``mkstemp`` guarantees it), since it
    may hold a private key or state the product relies on.
    """
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_signed_file(path: Path, token: str) -> None:
    """Write a signed file: the compact JWS and one line feed."""
    write_atomically(path, f"{token}\n".encode("ascii"))


def read_signed_file(path: Path) -> str:
    """Read a signed file as text, unverified.

    Raises:
        LicenseFormatError: the file is not UTF-8 text.
    """
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LicenseFormatError(f"{path.name} is not UTF-8 text") from exc
