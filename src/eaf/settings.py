"""One typed settings model for every process, read from ``EAF_*`` variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Operational settings. Unset server URLs mean "start embedded servers"."""

    model_config = SettingsConfigDict(env_prefix="EAF_", extra="ignore")

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
    password_reset_ttl_s: int = Field(default=1800, ge=60)
    tenant_status_cache_s: float = Field(
        default=5.0,
        ge=0,
        description="How long other processes may take to see a suspension.",
    )
    relay_checkpoint_delay_s: float = Field(
        default=0.0,
        ge=0,
        description="Crash drills only: pause between acks and checkpoint; keep 0.",
    )
    consumer_max_attempts: int = Field(default=5, ge=1)
    snapshot_every: int = Field(default=50, ge=1)

    log_level: str = "info"
    log_format: Literal["json", "console"] = "json"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides on top.

    ``EAF_ENV_FILE`` names an env file to read first; ``EAF_SECRETS_DIR`` a
    directory of one file per setting (``EAF_SECRET_KEY`` ...), as container
    secrets are mounted.
    """
    return Settings(
        _env_file=os.environ.get("EAF_ENV_FILE"),  # type: ignore[call-arg]
        _secrets_dir=os.environ.get("EAF_SECRETS_DIR"),
        **overrides,  # type: ignore[arg-type]
    )
