"""Environment profiles (dev, staging, production) and the production check.

A profile is an env file of defaults shipped with EAF; a site's own env file and
its environment variables override it. ``check_settings`` lists everything that
makes settings unfit for the environment they claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from eaf.settings import ENVIRONMENTS, Settings, profile_path, read_settings

__all__ = [
    "DEVELOPMENT_SECRETS",
    "ENVIRONMENTS",
    "Problem",
    "check_settings",
    "load_profile",
    "profile_file",
]

# Values that appear in examples and development files; never fit for use,
# not even as part of a longer value.
DEVELOPMENT_SECRETS = frozenset(
    {"admin", "changeme", "change-me", "change_me", "password", "secret", "test"}
)
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class Problem:
    setting: str
    message: str


def profile_file(environment: str) -> Path:
    if environment not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {environment!r}; use {ENVIRONMENTS}")
    return profile_path(environment)


def load_profile(
    environment: str, env_file: Path | None = None, secrets_dir: Path | None = None
) -> Settings:
    """Settings of ``environment`` read exactly as a process would read them."""
    return read_settings(env_file, secrets_dir, environment=environment)


def check_settings(settings: Settings) -> list[Problem]:
    """Every reason ``settings`` must not run in their environment."""
    if settings.environment == "dev":
        return []
    problems = _server_problems(settings) + _secret_problems(settings)
    problems += _debug_problems(settings)
    if settings.environment == "production":
        problems += _production_problems(settings)
    return problems


def _server_problems(settings: Settings) -> list[Problem]:
    problems = []
    if settings.database_url is None and settings.database_runtime_url is None:
        problems.append(
            Problem(
                "EAF_DATABASE_URL",
                "unset (and no EAF_DATABASE_RUNTIME_URL): would start an embedded "
                "PostgreSQL",
            )
        )
    if settings.nats_url is None:
        problems.append(Problem("EAF_NATS_URL", "unset: would start an embedded NATS"))
    if settings.stream_replicas < 3:
        problems.append(
            Problem(
                "EAF_STREAM_REPLICAS",
                f"{settings.stream_replicas}: a single node's loss would lose events; "
                "use 3",
            )
        )
    return problems


def _secret_problems(settings: Settings) -> list[Problem]:
    problems = []
    secrets = {"EAF_SECRET_KEY": settings.secret_key}
    if settings.database_runtime_url is None:
        # The runtime DSN is derived from the owner's: it needs the password.
        secrets["EAF_RUNTIME_PASSWORD"] = settings.runtime_password
    for name, secret in secrets.items():
        value = secret.get_secret_value() if secret else ""
        if not value:
            problems.append(Problem(name, "unset: a generated development secret"))
        elif _is_development_secret(value):
            problems.append(Problem(name, "a development or example value"))
    admin = settings.bootstrap_admin_password
    if admin is not None and _is_development_secret(admin.get_secret_value()):
        problems.append(
            Problem("EAF_BOOTSTRAP_ADMIN_PASSWORD", "a development or example value")
        )
    return problems + _url_password_problems(settings)


def _url_password_problems(settings: Settings) -> list[Problem]:
    """Passwords written into DSNs and server URLs are secrets too."""
    problems = []
    dsns = {
        "EAF_DATABASE_URL": settings.database_url,
        "EAF_DATABASE_RUNTIME_URL": settings.database_runtime_url,
    }
    for name, dsn in dsns.items():
        if not dsn:
            continue
        try:
            password = conninfo_to_dict(dsn).get("password")
        except psycopg.ProgrammingError:
            problems.append(Problem(name, "not a valid PostgreSQL DSN"))
            continue
        if password is not None and _is_development_secret(str(password)):
            problems.append(Problem(name, "its password is a development value"))
    servers = [url.strip() for url in (settings.nats_url or "").split(",")]
    passwords = [urlsplit(url).password for url in servers if url]
    if any(_is_development_secret(value) for value in passwords if value):
        problems.append(Problem("EAF_NATS_URL", "a password is a development value"))
    return problems


def _is_development_secret(value: str) -> bool:
    lowered = value.lower()
    return (
        len(value) < MIN_SECRET_LENGTH
        or any(word in lowered for word in DEVELOPMENT_SECRETS)
        or "dev" in lowered
        or "example" in lowered
    )


def _debug_problems(settings: Settings) -> list[Problem]:
    problems = []
    if settings.log_level.lower() == "debug":
        problems.append(Problem("EAF_LOG_LEVEL", "debug logs leak internals; use info"))
    if settings.relay_checkpoint_delay_s:
        problems.append(
            Problem("EAF_RELAY_CHECKPOINT_DELAY_S", "a crash-drill switch; set 0")
        )
    if settings.log_format != "json":
        problems.append(Problem("EAF_LOG_FORMAT", "use json for log collection"))
    return problems


def _production_problems(settings: Settings) -> list[Problem]:
    problems = []
    dsns = {
        "EAF_DATABASE_URL": settings.database_url,
        "EAF_DATABASE_RUNTIME_URL": settings.database_runtime_url,
    }
    for name, dsn in dsns.items():
        if dsn and not _database_uses_tls(dsn):
            problems.append(Problem(name, "needs sslmode=verify-full (or verify-ca)"))
    servers = [url.strip() for url in (settings.nats_url or "").split(",") if url]
    if servers and not all(url.startswith("tls://") for url in servers):
        problems.append(Problem("EAF_NATS_URL", "every server must be tls://"))
    if servers and not settings.nats_tls_ca:
        problems.append(Problem("EAF_NATS_TLS_CA", "unset: the CA to verify NATS"))
    if not (settings.public_url or "").startswith("https://"):
        problems.append(Problem("EAF_PUBLIC_URL", "must be an https:// URL"))
    return problems


def _database_uses_tls(dsn: str) -> bool:
    try:
        mode = str(conninfo_to_dict(dsn).get("sslmode", "") or "")
    except psycopg.ProgrammingError:
        return False
    return mode in ("verify-full", "verify-ca")
