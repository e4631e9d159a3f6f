"""Bad input to `eaf` ends in one clear line on stderr and an exit code.

Usage errors exit 2, failures exit 1; no command prints a traceback.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from eaf.cli.main import _bind_address
from eaf.settings import load_settings
from tests.support.servers import RUNTIME_PASSWORD, ClonedDatabase, Servers

UNREACHABLE_DSN = "postgresql://eaf:eaf@127.0.0.1:1/eaf"
NO_PARENT = "error: --out {out}: directory {parent} does not exist"
IS_DIRECTORY = "error: --out {out} is a directory; name a file"


def eaf(
    tmp_path: Path, *args: str, **env_vars: str
) -> subprocess.CompletedProcess[str]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("EAF_")
    }
    env.update(EAF_DATA_DIR=str(tmp_path), COLUMNS="200", **env_vars)
    return subprocess.run(
        [sys.executable, "-m", "eaf", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def stderr_of(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    return " ".join(result.stderr.split())


def db_env(database: ClonedDatabase, servers: Servers) -> dict[str, str]:
    return {
        "EAF_DATABASE_URL": database.owner_dsn,
        "EAF_RUNTIME_PASSWORD": RUNTIME_PASSWORD,
        "EAF_NATS_URL": servers.nats_url,
    }


@pytest.mark.parametrize(
    ("port", "problem"),
    [("99999", "less than or equal to 65535"), ("-1", "greater than or equal to 0")],
)
def test_up_refuses_port_out_of_range(tmp_path: Path, port: str, problem: str) -> None:
    result = eaf(tmp_path, "up", "--port", port)

    assert result.returncode == 2
    assert f"Invalid value for '--port': Input should be {problem}" in stderr_of(result)


def test_port_zero_becomes_a_concrete_free_port(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)

    host, port = _bind_address(settings, "127.0.0.1", 0)

    assert host == "127.0.0.1"
    assert 0 < port <= 65535


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("999.1.1.1", "not a valid IP address"),
        ("no-such-host.invalid", ""),
    ],
)
def test_up_refuses_host_it_cannot_use(tmp_path: Path, host: str, reason: str) -> None:
    result = eaf(tmp_path, "up", "--host", host)

    assert result.returncode == 2
    assert f"error: cannot use host {host}: {reason}" in stderr_of(result)
    assert "--port" not in result.stderr


def test_invalid_setting_names_the_variable(tmp_path: Path) -> None:
    result = eaf(tmp_path, "projections", "status", EAF_PORT="abc")

    assert result.returncode == 2
    assert stderr_of(result) == (
        "error: invalid settings: EAF_PORT: Input should be a valid integer, "
        "unable to parse string as an integer"
    )


def test_every_invalid_setting_is_named_without_its_value(tmp_path: Path) -> None:
    result = eaf(
        tmp_path, "dlq", "list", EAF_POOL_MIN_SIZE="0", EAF_SUBJECT_PREFIX="Bad!"
    )

    message = stderr_of(result)
    assert result.returncode == 2
    assert "EAF_POOL_MIN_SIZE: Input should be greater than or equal to 1" in message
    assert "EAF_SUBJECT_PREFIX: String should match pattern" in message
    assert "Bad!" not in message


@pytest.mark.parametrize("after", ["99999999999999999999999", "-1"])
def test_events_show_bounds_after(tmp_path: Path, after: str) -> None:
    result = eaf(
        tmp_path, "events", "show", "--after", after, EAF_DATABASE_URL=UNREACHABLE_DSN
    )

    assert result.returncode == 2
    assert "Invalid value for '--after'" in stderr_of(result)


def test_events_show_bounds_limit(tmp_path: Path) -> None:
    result = eaf(
        tmp_path, "events", "show", "--limit", "0", EAF_DATABASE_URL=UNREACHABLE_DSN
    )

    assert result.returncode == 2
    assert "Invalid value for '--limit'" in stderr_of(result)


def test_migrate_downgrade_to_unknown_revision_fails(
    tmp_path: Path, database: ClonedDatabase, servers: Servers
) -> None:
    env = db_env(database, servers)

    result = eaf(tmp_path, "migrate", "downgrade", "nosuchrev", **env)

    assert result.returncode == 1
    message = stderr_of(result)
    assert message.startswith("error: migrate downgrade: ")
    assert "nosuchrev" in message


@pytest.mark.parametrize(
    ("command", "out_name", "problem"),
    [
        (["license", "keys"], "missing/x.json", NO_PARENT),
        (["license", "keys"], "", IS_DIRECTORY),
        (
            ["license", "issue", "--customer", "acme", "--policy", "p1"],
            "missing/x.jws",
            NO_PARENT,
        ),
        (
            ["license", "request", "--license", "l1", "--product", "p"],
            "missing/x.req",
            NO_PARENT,
        ),
    ],
)
def test_license_out_is_checked_before_anything_runs(
    tmp_path: Path, command: list[str], out_name: str, problem: str
) -> None:
    out = tmp_path / out_name
    # Unreachable: only a check made before touching the database can pass.
    result = eaf(
        tmp_path, *command, "--out", str(out), EAF_DATABASE_URL=UNREACHABLE_DSN
    )

    assert result.returncode == 2
    assert stderr_of(result) == problem.format(out=out, parent=out.parent)


def test_os_error_is_one_line(tmp_path: Path) -> None:
    # The credentials "file" is a directory: deleting it fails.
    result = eaf(tmp_path, "logout", EAF_CREDENTIALS=str(tmp_path))

    assert result.returncode == 1
    assert stderr_of(result) == f"error: {tmp_path}: Is a directory"


class RecordingHandler(http.server.BaseHTTPRequestHandler):
    paths: list[str]

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        self.paths.append(self.path)
        body = json.dumps({"detail": "no such tenant"}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture
def api_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that answers 404 and keeps each requested path."""
    paths: list[str] = []
    handler = type("Handler", (RecordingHandler,), {"paths": paths})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", paths
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("slug", "path"),
    [
        ("acme/users", "/api/v1/tenants/acme%2Fusers"),
        ("../x", "/api/v1/tenants/..%2Fx"),
        ("acme?x=1", "/api/v1/tenants/acme%3Fx%3D1"),
        ("acme#top", "/api/v1/tenants/acme%23top"),
    ],
)
def test_tenant_slug_is_one_path_segment(
    tmp_path: Path, api_server: tuple[str, list[str]], slug: str, path: str
) -> None:
    url, paths = api_server

    result = eaf(tmp_path, "tenants", "show", slug, "--url", url, EAF_TOKEN="t")

    assert paths == [path]
    assert result.returncode == 1
    assert stderr_of(result) == "error: 404: no such tenant"


def test_user_id_and_tenant_are_escaped(
    tmp_path: Path, api_server: tuple[str, list[str]]
) -> None:
    url, paths = api_server

    eaf(tmp_path, "users", "show", "u/1", "-t", "a b", "--url", url, EAF_TOKEN="t")

    assert paths == ["/api/v1/tenants/a%20b/users/u%2F1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tenants", "show", ".."], "error: tenant '..' is not a valid name"),
        (["tenants", "show", "a\x01b"], "contains a control character"),
        (["users", "show", "u1", "-t", "a\nb"], "contains a control character"),
        (["roles", "delete", "."], "error: role '.' is not a valid name"),
    ],
)
def test_unusable_path_segment_is_a_usage_error(
    tmp_path: Path, api_server: tuple[str, list[str]], args: list[str], message: str
) -> None:
    url, paths = api_server

    result = eaf(tmp_path, *args, "--url", url, EAF_TOKEN="t")

    assert result.returncode == 2
    assert message in stderr_of(result)
    assert paths == []


def test_dlq_replay_names_unknown_ids(
    tmp_path: Path, database: ClonedDatabase, servers: Servers
) -> None:
    env = db_env(database, servers)

    result = eaf(tmp_path, "dlq", "replay", "999999", "999998", **env)

    assert result.returncode == 1
    assert stderr_of(result) == (
        "error: not among the parked events awaiting replay: 999998, 999999"
    )


@pytest.mark.parametrize("token", ["ü-token", "abc\ndef", "abc def", "Bearer\tx"])
def test_unsendable_token_is_a_usage_error(
    tmp_path: Path, api_server: tuple[str, list[str]], token: str
) -> None:
    url, paths = api_server

    result = eaf(tmp_path, "tenants", "list", "--url", url, EAF_TOKEN=token)

    message = stderr_of(result)
    assert result.returncode == 2
    assert message.startswith("error: the access token is malformed")
    assert "cannot reach" not in message
    assert token not in result.stderr
    assert paths == []


@pytest.mark.parametrize(
    "url", ["ü", "ftp://127.0.0.1:8000", "http://", "http://exa mple.com"]
)
def test_unusable_api_url_is_a_usage_error(tmp_path: Path, url: str) -> None:
    result = eaf(tmp_path, "tenants", "list", "--url", url, EAF_TOKEN="t")

    message = stderr_of(result)
    assert result.returncode == 2
    assert message.startswith("error: the API URL")
    assert "http(s) URL" in message
