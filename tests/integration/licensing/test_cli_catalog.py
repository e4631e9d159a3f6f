"""`eaf license product` and `eaf license policy` against a live site."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from eaf.application.repository import Repository
from eaf.cli.main import app
from eaf.db.pool import Database
from eaf.eventstore.postgres import PostgresEventStore
from eaf.licensing.domain.catalog import Product, ProductCreated
from tests.support import servers as test_servers
from tests.support.live_server import LiveSite, admin_headers_for, live_site


@pytest.fixture(scope="module")
def live(
    servers: test_servers.Servers,
    template_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveSite]:
    data_dir = tmp_path_factory.mktemp("catalog")
    with live_site(servers, template_database, data_dir) as site:
        yield site


@pytest.fixture
def cli(live: LiveSite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A runner logged in as the site's superadmin through ``EAF_TOKEN``."""
    monkeypatch.setattr("eaf.cli._common.configure_logging", lambda *_: None)
    monkeypatch.setenv("EAF_CREDENTIALS", str(tmp_path / "credentials.json"))
    token = admin_headers_for(live)["Authorization"].removeprefix("Bearer ")
    monkeypatch.setenv("EAF_TOKEN", token)
    monkeypatch.setenv("EAF_URL", live.url)
    return CliRunner()


def run(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, ["license", *args])
    assert result.exit_code == 0, result.output
    return result.output


def json_in(output: str) -> Any:
    """The JSON document a command printed, among any log lines around it."""
    lines = output.splitlines()
    start = next(n for n, line in enumerate(lines) if line in ("{", "[", "[]"))
    closing = {"{": "}", "[": "]", "[]": "[]"}[lines[start]]
    end = lines.index(closing, start)
    return json.loads("\n".join(lines[start : end + 1]))


def listed(cli: CliRunner, *args: str, key: str, value: str) -> dict[str, Any]:
    """The item of a ``--json`` list whose ``key`` is ``value``, once listed.

    Lists come from read models, which follow the events within moments.
    """
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for item in json_in(run(cli, *args, "--json")):
            if item[key] == value:
                return dict(item)
        time.sleep(0.1)
    raise AssertionError(f"{value!r} never appeared in `eaf license {args}`")


def test_product_and_policy_are_created_and_listed(cli: CliRunner) -> None:
    created = json_in(run(cli, "product", "create", "nova", "--display-name", "Nova"))
    terms = ["--perpetual", "--grace-days", "14", "--feature", "reports",
             "--feature", "sso", "--limit", "users=50", "--limit", "machines=1",
             "--node-locked"]  # fmt: skip
    policy = json_in(
        run(cli, "policy", "create", "nova-site", "--product", "nova", *terms)
    )

    assert created["name"] == "nova"
    assert policy["duration_days"] is None
    assert policy["limits"] == {"users": 50, "machines": 1}
    assert sorted(policy["entitlements"]) == ["reports", "sso"]
    assert policy["node_locked"] is True
    product = listed(cli, "product", "list", key="name", value="nova")
    assert product["display_name"] == "Nova"
    shown = listed(
        cli, "policy", "list", "--product", "nova", key="id", value="nova-site"
    )
    assert shown["grace_days"] == 14


def test_policy_list_table_shows_terms(cli: CliRunner) -> None:
    run(cli, "product", "create", "vega")
    run(cli, "policy", "create", "vega-trial", "--product", "vega",
        "--duration-days", "30", "--trial")  # fmt: skip
    listed(cli, "policy", "list", key="id", value="vega-trial")

    table = run(cli, "policy", "list", "--product", "vega")

    assert "vega-trial" in table
    assert "30" in table


def test_duplicate_product_is_refused(cli: CliRunner) -> None:
    run(cli, "product", "create", "lyra")

    result = cli.invoke(app, ["license", "product", "create", "lyra"])

    assert result.exit_code == 1
    assert "409" in result.output
    assert "lyra" in result.output


def test_policy_for_unknown_product_is_refused(cli: CliRunner) -> None:
    result = cli.invoke(
        app, ["license", "policy", "create", "ghost-std", "--product", "ghost"]
    )

    assert result.exit_code == 1
    assert "ghost" in result.output


@pytest.mark.parametrize("limit", ["users", "users=", "users=many", "=5", "users=-1"])
def test_malformed_limit_is_a_usage_error(cli: CliRunner, limit: str) -> None:
    result = cli.invoke(
        app,
        ["license", "policy", "create", "x-std", "--product", "x", "--limit", limit],
    )

    assert result.exit_code == 2
    assert "NAME=COUNT" in result.output


def test_catalog_commands_need_a_login(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EAF_TOKEN")

    result = cli.invoke(app, ["license", "product", "list"])

    assert result.exit_code == 1
    assert "eaf login" in result.output


def test_perpetual_with_duration_is_a_usage_error(cli: CliRunner) -> None:
    result = cli.invoke(
        app,
        ["license", "policy", "create", "x-std", "--product", "x", "--perpetual",
         "--duration-days", "5"],
    )  # fmt: skip

    assert result.exit_code == 2
    assert "--perpetual and --duration-days contradict each other" in result.output


def test_policy_lasts_a_year_unless_told(cli: CliRunner) -> None:
    run(cli, "product", "create", "deneb")

    policy = json_in(run(cli, "policy", "create", "deneb-std", "--product", "deneb"))

    assert policy["duration_days"] == 365
    assert policy["created_at"] is not None


def store_product_unchecked(live: LiveSite, name: str, display_name: str) -> None:
    """Save a product past today's input rules, as data stored earlier may be."""

    async def store() -> None:
        db = Database(live.database.runtime_dsn, min_size=1, max_size=1)
        await db.open()
        try:
            product = Product(name)
            product.record(ProductCreated(name=name, display_name=display_name))
            repository = Repository(PostgresEventStore(db), Product)
            await repository.save(live.settings.bootstrap_tenant, product)
        finally:
            await db.close()

    asyncio.run(store())


def test_product_table_escapes_control_characters(
    cli: CliRunner, live: LiveSite
) -> None:
    store_product_unchecked(live, "altair", "Alt\x1b[2Jair\u202eexe")
    listed(cli, "product", "list", key="name", value="altair")

    table = run(cli, "product", "list")

    assert "Alt\\x1b[2Jair\\u202eexe" in table
    assert "\x1b" not in table
    assert "\u202e" not in table
