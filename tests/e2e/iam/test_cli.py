"""The operator CLI: `eaf login`, `tenants`, `users`, `roles` over HTTP, and
`eaf bootstrap` against a database."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from eaf.cli.main import app
from tests.conftest import new_tenant
from tests.support import servers as test_servers
from tests.support.live_server import ADMIN_PASSWORD, LiveSite, live_site


@pytest.fixture(scope="module")
def live(
    servers: test_servers.Servers,
    template_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveSite]:
    with live_site(servers, template_database, tmp_path_factory.mktemp("cli")) as site:
        yield site


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    # Logging would bind the runner's temporary stderr for the whole session.
    monkeypatch.setattr("eaf.cli._common.configure_logging", lambda *_: None)
    monkeypatch.setenv("EAF_CREDENTIALS", str(tmp_path / "credentials.json"))
    monkeypatch.delenv("EAF_TOKEN", raising=False)
    return CliRunner()


def run(cli: CliRunner, *args: str, env: dict[str, str] | None = None) -> str:
    result = cli.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def json_of(output: str) -> dict[str, object]:
    """The JSON a command printed; the live server's log lines may surround it."""
    start = output.index("{\n") if output.startswith("{") else output.index("\n{") + 1
    end = output.index("\n}", start) + 2
    return dict(json.loads(output[start:end]))


def login(cli: CliRunner, live: LiveSite) -> None:
    run(cli, "login", "--url", live.url, "--password", ADMIN_PASSWORD)


def test_login_keeps_tokens_in_a_private_file(
    cli: CliRunner, live: LiveSite, tmp_path: Path
) -> None:
    login(cli, live)

    stored = tmp_path / "credentials.json"
    assert os.stat(stored).st_mode & 0o777 == 0o600
    assert json.loads(stored.read_text())["url"] == live.url
    run(cli, "logout")
    assert not stored.exists()


def test_wrong_password_fails_cleanly(cli: CliRunner, live: LiveSite) -> None:
    result = cli.invoke(app, ["login", "--url", live.url, "--password", "nope"])

    assert result.exit_code == 1
    assert "invalid username or password" in result.output


def test_operator_manages_tenant_roles_and_users(
    cli: CliRunner, live: LiveSite
) -> None:
    login(cli, live)
    slug = new_tenant()

    run(cli, "tenants", "create", slug, "--name", "Cli Corp")
    run(cli, "tenants", "rename", slug, "Cli Corporation")
    run(cli, "roles", "create", "viewer", "-p", "docs:read", "--tenant", slug)
    created = run(
        cli,
        "users",
        "create",
        "carol",
        "--email",
        "carol@cli.example",
        "--password",
        "carol-pw-123",
        "--role",
        "viewer",
        "--tenant",
        slug,
    )
    user_id = str(json_of(created)["id"])
    run(cli, "users", "assign-role", user_id, "member", "--tenant", slug)
    run(cli, "tenants", "suspend", slug, "--reason", "test")
    shown = run(cli, "tenants", "show", slug)
    run(cli, "tenants", "reactivate", slug)

    assert json_of(shown)["status"] == "suspended"
    assert "Cli Corporation" in run(cli, "tenants", "list")
    assert "docs:read" in run(cli, "roles", "list", "--tenant", slug)
    assert "carol" in wait_for(cli, "users", "list", "--tenant", slug, text="carol")
    trail = json_of(run(cli, "tenants", "audit", slug, "--json"))
    assert [item["type"] for item in trail["items"]][-3:] == [  # type: ignore[index]
        "UserRoleAssigned",
        "TenantSuspended",
        "TenantReactivated",
    ]


def test_purge_expired_deletes_stale_rows_of_a_tenant(
    cli: CliRunner, live: LiveSite
) -> None:
    login(cli, live)
    slug = new_tenant()
    run(cli, "tenants", "create", slug, "--name", "Purge Corp")
    with psycopg.connect(live.database.owner_dsn) as conn:
        conn.execute(
            "INSERT INTO iam_revoked_tokens (tenant_id, jti, expires_at) "
            "VALUES (%s, 'stale', now() - interval '1 day')",
            (slug,),
        )

    output = run(cli, "tenants", "purge-expired", slug)

    assert slug in output
    with psycopg.connect(live.database.owner_dsn) as conn:
        left = conn.execute(
            "SELECT count(*) FROM iam_revoked_tokens WHERE tenant_id = %s", (slug,)
        ).fetchone()
    assert left == (0,)


def wait_for(cli: CliRunner, *args: str, text: str) -> str:
    """Run until the output shows ``text`` (read models follow the events)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        output = run(cli, *args)
        if text in output:
            return output
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in `eaf {' '.join(args)}`")


def test_token_from_environment_is_used(cli: CliRunner, live: LiveSite) -> None:
    login(cli, live)
    stored = json.loads(Path(os.environ["EAF_CREDENTIALS"]).read_text())
    run(cli, "logout")

    output = run(
        cli,
        "tenants",
        "list",
        env={"EAF_TOKEN": stored["access_token"], "EAF_URL": live.url},
    )

    assert "default" in output


@pytest.fixture
def bootstrap_env(
    servers: test_servers.Servers,
    template_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[test_servers.ClonedDatabase]:
    database = test_servers.clone_database(servers, template_database)
    monkeypatch.setenv("EAF_DATABASE_URL", database.owner_dsn)
    monkeypatch.setenv("EAF_DATABASE_RUNTIME_URL", database.runtime_dsn)
    monkeypatch.setenv("EAF_RUNTIME_PASSWORD", test_servers.RUNTIME_PASSWORD)
    monkeypatch.setenv("EAF_NATS_URL", servers.nats_url)
    monkeypatch.setenv("EAF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EAF_SECRET_KEY", "cli-bootstrap-secret")
    monkeypatch.setenv("EAF_PASSWORD_HASH_MEMORY_KIB", "8192")
    yield database
    test_servers.drop_database(servers, database.name)


def test_bootstrap_is_idempotent(
    cli: CliRunner, bootstrap_env: test_servers.ClonedDatabase, tmp_path: Path
) -> None:
    first = run(cli, "bootstrap")
    second = run(cli, "bootstrap")

    assert "tenant default: created" in first
    assert "superadmin admin: created" in first
    assert "tenant default: exists" in second
    assert "superadmin admin: exists" in second
    secret = tmp_path / "data" / "bootstrap-admin.txt"
    assert os.stat(secret).st_mode & 0o777 == 0o600
    with psycopg.connect(bootstrap_env.owner_dsn) as conn:
        roles = conn.execute(
            "SELECT payload->'roles' FROM events WHERE event_type = 'UserRegistered'"
        ).fetchall()
    assert roles == [(["superadmin", "tenant_admin"],)]


def test_field_errors_of_a_refusal_are_listed(cli: CliRunner, live: LiveSite) -> None:
    login(cli, live)
    slug = new_tenant()
    run(cli, "tenants", "create", slug, "--name", "Field Corp")

    empty = cli.invoke(app, ["tenants", "rename", slug, ""])
    unsafe = cli.invoke(app, ["tenants", "rename", slug, "Evil\x1b[2J"])

    assert empty.exit_code == 1
    assert "422: the request does not match the schema" in empty.output
    assert "  name: String should have at least 1 character" in empty.output
    assert unsafe.exit_code == 1
    assert "must not contain control" in unsafe.output
    assert "\x1b" not in unsafe.output


def test_stored_control_characters_are_printed_escaped(
    cli: CliRunner, live: LiveSite
) -> None:
    login(cli, live)
    slug = new_tenant()
    run(cli, "tenants", "create", slug, "--name", "Plain Corp")
    # Written before names were checked, or straight into the database.
    with psycopg.connect(live.database.owner_dsn) as conn:
        conn.execute(
            "UPDATE iam_tenants SET name = %s WHERE slug = %s",
            ("Evil\x1b[2J\x9b31m\u202eCorp [/bold]", slug),
        )

    listed = run(cli, "tenants", "list", env={"COLUMNS": "300"})
    shown = run(cli, "tenants", "show", slug)

    for output in (listed, shown):
        assert not any(char in output for char in "\x1b\x9b\u202e")
    assert "Evil\\x1b[2J\\x9b31m\\u202eCorp [/bold]" in listed
    assert json_of(shown)["name"] == "Evil\x1b[2J\x9b31m\u202eCorp [/bold]"
