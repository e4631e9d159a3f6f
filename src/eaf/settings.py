"""One typed settings model for every process, read from ``EAF_*`` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from eaf.errors import ConfigurationError

ENVIRONMENTS = ("dev", "staging", "production")
PROFILES_DIR = Path(__file__).parent / "profiles"


class Settings(BaseSettings):
    """Operational settings. Unset server URLs mean "start embedded servers"."""

    model_config = SettingsConfigDict(env_prefix="EAF_", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Mounted secrets beat env files, so a profile's or a site file's
        # value never hides a secret.
        return init_settings, env_settings, file_secret_settings, dotenv_settings

    environment: Literal["dev", "staging", "production"] = "dev"
    data_dir: Path = Path(".eaf")

    database_url: str | None = Field(
        default=None,
        description="Owner DSN used for migrations; unset starts embedded PostgreSQL.",
    )
    database_runtime_url: str | None = Field(
        default=None,
        description="DSN of the non-owner role the services use; derived if unset.",
    )
    runtime_role: str = "eaf_app"
    runtime_password: SecretStr | None = None
    pool_min_size: int = Field(default=2, ge=1)
    pool_max_size: int = Field(default=10, ge=1)

    nats_url: str | None = Field(
        default=None, description="NATS URL; unset starts an embedded nats-server."
    )
    nats_tls_ca: Path | None = Field(
        default=None, description="CA bundle that signs the NATS servers' certs."
    )
    stream_name: str = "EAF"
    subject_prefix: str = Field(default="eaf", pattern=r"^[a-z][a-z0-9_-]*$")
    stream_replicas: int = Field(default=1, ge=1, le=5)
    duplicate_window_s: float = Field(default=120.0, gt=0)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    public_url: str | None = Field(
        default=None, description="External base URL; issuers are built from it."
    )

    secret_key: SecretStr | None = Field(
        default=None,
        description="Encrypts signing keys at rest; made in the data dir if unset.",
    )

    bootstrap_admin_username: str = "admin"
    bootstrap_admin_password: SecretStr | None = None
    bootstrap_tenant: str = "default"

    access_token_ttl_s: int = Field(default=900, ge=30)
    refresh_token_ttl_s: int = Field(
        default=8 * 3600, ge=60, description="Idle lifetime of a refresh token."
    )
    password_min_length: int = Field(default=8, ge=8, le=128)
    password_hash_memory_kib: int = Field(
        default=65536, ge=8192, description="argon2id memory cost per hash."
    )
    password_hash_time_cost: int = Field(default=3, ge=1)
    login_lockout_threshold: int = Field(
        default=5, ge=1, description="Failed logins that lock a username."
    )
    login_lockout_window_s: float = Field(
        default=300.0,
        gt=0,
        description="Failures count within this window; a lock lasts as long.",
    )
    login_address_threshold: int = Field(
        default=0,
        ge=0,
        description="Failed logins from one client address within the lockout "
        "window that block the address; 0 turns this off. Needs the real client "
        "addresses: behind a proxy, every user would share the proxy's.",
    )
    password_reset_ttl_s: int = Field(default=1800, ge=60)
    password_reset_interval_s: int = Field(
        default=60,
        ge=0,
        description="At most one reset mail per user within this time; more "
        "requests are accepted but send nothing.",
    )
    http_max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Request bodies over this size are refused with 413.",
    )
    iam_purge_interval_s: float = Field(
        default=3600.0,
        ge=0,
        description="How often the process running the relay deletes expired "
        "tokens, codes, revocations and failure counters; 0 turns it off.",
    )
    tenant_status_cache_s: float = Field(
        default=0.0,
        ge=0,
        description="How long other processes may take to see a suspension; "
        "0 reads the status on every check.",
    )
    relay_checkpoint_delay_s: float = Field(
        default=0.0,
        ge=0,
        description="Crash drills only: pause between acks and checkpoint; keep 0.",
    )
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_max_deliver: int = Field(
        default=10,
        ge=2,
        description="Deliveries of one message (crashes and timeouts included) "
        "before a projection parks it.",
    )
    consumer_ack_wait_s: float = Field(
        default=30.0,
        gt=0,
        description="How long JetStream waits for a projection's ack before "
        "delivering the message again.",
    )
    append_idle_timeout_s: float = Field(
        default=60.0,
        ge=0,
        description="A transaction that appended and then idles this long is "
        "ended by PostgreSQL, so it cannot hold every writer back; 0 turns "
        "this off.",
    )
    snapshot_every: int = Field(default=50, ge=1)

    log_level: str = "info"
    log_format: Literal["json", "console"] = "json"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides on top.

    ``EAF_ENV_FILE`` names the site's env file; ``EAF_SECRETS_DIR`` a directory
    of one file per setting (``EAF_SECRET_KEY`` ...), as container secrets are
    mounted. See :func:`read_settings` for the order of the sources.
    """
    return read_settings(
        _configured_path("EAF_ENV_FILE"),
        _configured_path("EAF_SECRETS_DIR"),
        **overrides,
    )


def read_settings(
    env_file: Path | None, secrets_dir: Path | None, **overrides: object
) -> Settings:
    """Settings from every source, each overriding the ones before it.

    1. the profile of the environment (``eaf/profiles/<environment>.env``);
    2. ``env_file``, the site's own file;
    3. ``secrets_dir``;
    4. ``EAF_*`` environment variables;
    5. ``overrides``.

    The environment is the first one named by the overrides, the variables or
    the site's file; without any, ``dev``.
    """
    for path, kind in ((env_file, "env file"), (secrets_dir, "secrets directory")):
        if path is not None and not path.exists():
            raise ConfigurationError(f"the {kind} {path} does not exist")
    environment = str(
        overrides.get("environment")
        or _variable("EAF_ENVIRONMENT", os.environ)
        or (_variable("EAF_ENVIRONMENT", dotenv_values(env_file)) if env_file else "")
        or "dev"
    )
    env_files: list[Path] = []
    if environment in ENVIRONMENTS:  # anything else fails validation below
        env_files.append(profile_path(environment))
    if env_file is not None:
        env_files.append(env_file)
    return Settings(
        _env_file=tuple(env_files),  # type: ignore[call-arg]
        _secrets_dir=secrets_dir,
        **overrides,  # type: ignore[arg-type]
    )


def profile_path(environment: str) -> Path:
    """The env file of defaults EAF ships for ``environment``."""
    path = PROFILES_DIR / f"{environment}.env"
    if not path.is_file():
        raise ConfigurationError(
            f"the {environment} profile is missing from this installation ({path})"
        )
    return path


def _configured_path(variable: str) -> Path | None:
    value = os.environ.get(variable, "").strip()
    return Path(value) if value else None


def _variable(name: str, values: Mapping[str, str | None]) -> str:
    """``name`` from ``values``, matched without regard to case as settings are."""
    for key, value in values.items():
        if key.upper() == name and value:
            return value.strip()
    return ""
