"""One typed settings model for every process, read from ``EAF_*`` variables."""

from __future__ import annotations

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
    """Read settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
