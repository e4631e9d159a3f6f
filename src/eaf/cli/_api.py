"""Operator commands over the HTTP API: base URL, stored login, the client.

``eaf login`` keeps the tokens in a file only its owner can read (mode 0600),
``$EAF_CREDENTIALS`` or ``~/.config/eaf/credentials.json``. ``EAF_TOKEN``, if
set, is used instead and never stored.
"""

from __future__ import annotations

import contextlib
import json
import os
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer

from eaf.cli._common import fail
from eaf.errors import ConfigurationError
from eaf.iam.client import IamClient, TokenSet

DEFAULT_URL = "http://127.0.0.1:8000"

UrlOption = Annotated[
    str | None,
    typer.Option("--url", envvar="EAF_URL", help="Base URL of the EAF API."),
]
TenantOption = Annotated[
    str | None,
    typer.Option("--tenant", "-t", help="Tenant slug; the login's tenant if unset."),
]


def segment(value: str, what: str = "name") -> str:
    """``value`` escaped as one URL path segment; a usage error if it cannot be.

    Every tenant slug, user id or role name goes through here before it is
    put in a path, so that '/', '?' or '#' cannot reach another endpoint.
    """
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise fail(f"{what} {value!r} contains a control character", 2)
    if value in ("", ".", ".."):
        # Clients fold dot segments away, whether escaped or not.
        raise fail(f"{what} {value!r} is not a valid name", 2)
    return quote(value, safe="")


def tenant_segment(chosen: str | None, own: str) -> str:
    """The --tenant given, else the login's own, as a path segment."""
    return segment(chosen or own, "tenant")


@dataclass
class StoredLogin:
    """What ``eaf login`` keeps between commands."""

    url: str
    tenant: str
    access_token: str
    expires_at: float
    refresh_token: str | None = None


def credentials_path() -> Path:
    """Where ``eaf login`` keeps its tokens."""
    explicit = os.environ.get("EAF_CREDENTIALS")
    if explicit:
        return Path(explicit)
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "eaf" / "credentials.json"


def save_login(login: StoredLogin) -> Path:
    """Write the login to the credentials file (mode 0600)."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as stream:
        json.dump(asdict(login), stream)
    os.chmod(path, 0o600)  # an older file may have had a wider mode
    return path


def load_login() -> StoredLogin | None:
    """The stored login, or None."""
    path = credentials_path()
    if not path.exists():
        return None
    try:
        return StoredLogin(**json.loads(path.read_text()))
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"{path} is damaged; run `eaf login` again") from exc


def forget_login() -> bool:
    """Delete the stored login; return whether there was one."""
    path = credentials_path()
    if not path.exists():
        return False
    path.unlink()
    return True


def login_from(url: str, tenant: str, tokens: TokenSet) -> StoredLogin:
    """What to store for a fresh token set."""
    return StoredLogin(
        url=url,
        tenant=tenant,
        access_token=tokens.access_token,
        expires_at=tokens.expires_at,
        refresh_token=tokens.refresh_token,
    )


@contextlib.asynccontextmanager
async def api_client(url: str | None) -> AsyncIterator[tuple[IamClient, str]]:
    """A client with a valid token, and the login's tenant.

    An expired stored token is refreshed (and the new one stored) first.
    """
    env_token = os.environ.get("EAF_TOKEN")
    login = None if env_token else load_login()
    base_url = url or (login.url if login else DEFAULT_URL)
    async with IamClient(base_url) as client:
        if env_token:
            client.token = env_token
            yield client, os.environ.get("EAF_TENANT", "default")
            return
        if login is None:
            raise ConfigurationError("not logged in: run `eaf login` or set EAF_TOKEN")
        tokens = TokenSet(login.access_token, login.expires_at, "", login.refresh_token)
        if tokens.is_expired and tokens.refresh_token:
            realm = segment(login.tenant, "tenant")
            tokens = await client.refresh(realm, tokens.refresh_token)
            save_login(login_from(login.url, login.tenant, tokens))
        client.token = tokens.access_token
        yield client, login.tenant
