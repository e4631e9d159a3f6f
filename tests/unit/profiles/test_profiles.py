"""Environment profiles and the check that guards production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from eaf.errors import ConfigurationError
from eaf.profiles import check_settings, load_profile
from eaf.settings import Settings, load_settings

STRONG = "k" * 40

GOOD_PRODUCTION = {
    "database_url": "postgresql://eaf@db.internal/eaf?sslmode=verify-full",
    "nats_url": "tls://n1.internal:4222,tls://n2.internal:4222",
    "nats_tls_ca": Path("/etc/eaf/nats-ca.pem"),
    "public_url": "https://eaf.example.org",
    "secret_key": STRONG,
    "runtime_password": STRONG + "r",
    "stream_replicas": 3,
    "log_format": "json",
}


def production(**changes: object) -> Settings:
    return Settings(environment="production", **{**GOOD_PRODUCTION, **changes})  # type: ignore[arg-type]


def problem_settings(settings: Settings) -> list[str]:
    return [problem.setting for problem in check_settings(settings)]


def test_good_production_settings_pass() -> None:
    assert check_settings(production()) == []


def test_service_with_runtime_dsn_only_passes() -> None:
    settings = production(
        database_url=None,
        runtime_password=None,
        database_runtime_url=f"postgresql://eaf_app:{STRONG}@db/eaf?sslmode=verify-full",
    )

    assert check_settings(settings) == []


def test_runtime_dsn_without_tls_is_refused() -> None:
    settings = production(database_runtime_url=f"postgresql://eaf_app:{STRONG}@db/eaf")

    assert problem_settings(settings) == ["EAF_DATABASE_RUNTIME_URL"]


def test_dev_environment_is_never_refused() -> None:
    assert check_settings(Settings(environment="dev")) == []


@pytest.mark.parametrize(
    ("changes", "setting"),
    [
        ({"database_url": None}, "EAF_DATABASE_URL"),
        ({"nats_url": None}, "EAF_NATS_URL"),
        ({"stream_replicas": 1}, "EAF_STREAM_REPLICAS"),
        ({"secret_key": None}, "EAF_SECRET_KEY"),
        ({"secret_key": "changeme"}, "EAF_SECRET_KEY"),
        ({"runtime_password": "eaf-dev-runtime" + "x" * 30}, "EAF_RUNTIME_PASSWORD"),
        ({"bootstrap_admin_password": "admin"}, "EAF_BOOTSTRAP_ADMIN_PASSWORD"),
        ({"log_level": "debug"}, "EAF_LOG_LEVEL"),
        ({"relay_checkpoint_delay_s": 0.2}, "EAF_RELAY_CHECKPOINT_DELAY_S"),
        ({"database_url": "postgresql://eaf@db/eaf"}, "EAF_DATABASE_URL"),
        ({"nats_url": "nats://n1:4222"}, "EAF_NATS_URL"),
        ({"nats_tls_ca": None}, "EAF_NATS_TLS_CA"),
        ({"public_url": "http://eaf.example.org"}, "EAF_PUBLIC_URL"),
        (
            {"database_url": "postgresql://eaf:pw@db/eaf?sslmode=verify-full"},
            "EAF_DATABASE_URL",
        ),
        (
            {
                "database_runtime_url": "postgresql://eaf_app:change-me-"
                + STRONG
                + "@db1:5432,db2:5432/eaf?sslmode=verify-full"
            },
            "EAF_DATABASE_RUNTIME_URL",
        ),
        (
            {
                "database_url": "host=db dbname=eaf user=eaf sslmode=verify-full "
                f"password=Secret{STRONG}"
            },
            "EAF_DATABASE_URL",
        ),
        (
            {
                "database_url": "postgresql://eaf:%63hangeme" + STRONG + "@db/eaf"
                "?sslmode=verify-full"
            },
            "EAF_DATABASE_URL",
        ),
        ({"nats_url": "tls://eaf:changeme@n1:4222"}, "EAF_NATS_URL"),
    ],
)
def test_production_refuses_each_unsafe_setting(
    changes: dict[str, object], setting: str
) -> None:
    assert problem_settings(production(**changes)) == [setting]


def test_check_lists_every_problem_at_once() -> None:
    settings = Settings(environment="production")

    found = problem_settings(settings)

    assert {"EAF_DATABASE_URL", "EAF_NATS_URL", "EAF_SECRET_KEY"} <= set(found)
    assert len(found) >= 6


def test_site_env_file_overrides_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EAF_STREAM_REPLICAS", raising=False)
    site = tmp_path / "site.env"
    site.write_text("EAF_STREAM_REPLICAS=5\nEAF_PUBLIC_URL=https://eaf.example.org\n")

    settings = load_profile("staging", site)

    assert (settings.environment, settings.stream_replicas) == ("staging", 5)


def test_cli_check_exits_1_and_lists_problems(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "eaf", "config", "check", "--env", "production"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": str(tmp_path)},
    )

    assert result.returncode == 1
    assert "EAF_DATABASE_URL" in result.stdout
    assert "EAF_SECRET_KEY" in result.stdout


def test_serve_refuses_to_start_on_unfit_production_settings(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "eaf", "serve", "all"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "EAF_ENVIRONMENT": "production",
            "EAF_DATA_DIR": str(tmp_path),
            "COLUMNS": "200",
        },
    )

    assert result.returncode == 1
    assert "settings unfit for production" in " ".join(result.stderr.split())


def test_strong_passwords_in_urls_pass() -> None:
    settings = production(
        database_url=f"postgresql://eaf:{STRONG}@db/eaf?sslmode=verify-full",
        nats_url=f"tls://eaf:{STRONG}@n1:4222,tls://n2:4222",
    )

    assert check_settings(settings) == []


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.upper().startswith("EAF_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_load_settings_layers_profile_of_environment(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("EAF_ENVIRONMENT", "production")

    settings = load_settings()

    assert (settings.stream_replicas, settings.log_format) == (3, "json")


def test_site_file_names_the_environment_profile(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    site = tmp_path / "site.env"
    site.write_text("EAF_ENVIRONMENT=staging\nEAF_LOG_LEVEL=warning\n")
    clean_env.setenv("EAF_ENV_FILE", str(site))

    settings = load_settings()

    assert settings.environment == "staging"
    assert (settings.stream_replicas, settings.log_level) == (3, "warning")


def test_sources_override_in_order(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Profile < site file < secrets directory < variables < overrides."""
    site = tmp_path / "site.env"
    site.write_text(
        "EAF_ENVIRONMENT=production\nEAF_STREAM_REPLICAS=5\n"
        "EAF_SECRET_KEY=from-file\nEAF_LOG_LEVEL=warning\nEAF_PORT=8001\n"
    )
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "EAF_SECRET_KEY").write_text("from-secrets")
    (secrets / "EAF_LOG_LEVEL").write_text("error")
    clean_env.setenv("EAF_ENV_FILE", str(site))
    clean_env.setenv("EAF_SECRETS_DIR", str(secrets))
    clean_env.setenv("EAF_LOG_LEVEL", "critical")
    clean_env.setenv("EAF_PORT", "8002")

    settings = load_settings(port=8003)

    assert settings.stream_replicas == 5
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "from-secrets"
    assert settings.log_level == "critical"
    assert settings.port == 8003


def test_missing_env_file_is_an_error(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("EAF_ENV_FILE", str(tmp_path / "missing.env"))

    with pytest.raises(ConfigurationError, match="missing.env does not exist"):
        load_settings()


def run_eaf(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eaf", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", **env},
    )


def site_files(tmp_path: Path, **changes: str) -> tuple[Path, Path]:
    """A production site's env file and secrets directory that pass the check."""
    values = {
        "EAF_ENVIRONMENT": "production",
        "EAF_DATABASE_URL": "postgresql://eaf@db.internal/eaf?sslmode=verify-full",
        "EAF_NATS_URL": "tls://n1.internal:4222",
        "EAF_NATS_TLS_CA": "/etc/eaf/nats-ca.pem",
        "EAF_PUBLIC_URL": "https://eaf.example.org",
        **changes,
    }
    site = tmp_path / "eaf.env"
    site.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "EAF_SECRET_KEY").write_text(STRONG)
    (secrets / "EAF_RUNTIME_PASSWORD").write_text(STRONG + "r")
    return site, secrets


def test_cli_check_reads_env_file_and_secrets_from_variables(tmp_path: Path) -> None:
    site, secrets = site_files(tmp_path)

    result = run_eaf(
        "config",
        "check",
        EAF_ENV_FILE=str(site),
        EAF_SECRETS_DIR=str(secrets),
        HOME=str(tmp_path),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "settings fit for production" in result.stdout


def test_cli_check_and_serve_refuse_the_same_weak_dsn(tmp_path: Path) -> None:
    weak = "postgresql://eaf:change-me@db.internal/eaf?sslmode=verify-full"
    site, secrets = site_files(tmp_path, EAF_DATABASE_URL=weak)
    env = {
        "EAF_ENV_FILE": str(site),
        "EAF_SECRETS_DIR": str(secrets),
        "EAF_DATA_DIR": str(tmp_path),
        "HOME": str(tmp_path),
    }

    checked = run_eaf("config", "check", **env)
    served = run_eaf("serve", "all", **env)

    assert checked.returncode == 1
    assert "EAF_DATABASE_URL" in checked.stdout
    assert "change-me" not in checked.stdout
    assert served.returncode == 1
    refusal = " ".join(served.stderr.split())
    assert "settings unfit for production: EAF_DATABASE_URL" in refusal
    assert "change-me" not in refusal
