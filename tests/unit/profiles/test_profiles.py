"""Environment profiles and the check that guards production."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eaf.profiles import check_settings, load_profile
from eaf.settings import Settings

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
        database_runtime_url="postgresql://eaf_app:pw@db/eaf?sslmode=verify-full",
    )

    assert check_settings(settings) == []


def test_runtime_dsn_without_tls_is_refused() -> None:
    settings = production(database_runtime_url="postgresql://eaf_app:pw@db/eaf")

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
