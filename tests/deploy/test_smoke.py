"""deploy/smoke.py against a scripted HTTP entry on 127.0.0.1.

The entry here answers fixed replies per path, so each test decides what
IAM and Licensing say; the real entry is exercised by deploy/rehearse.sh.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SMOKE_PATH = Path(__file__).resolve().parents[2] / "deploy" / "smoke.py"
TOKEN_PATH = "/realms/default/protocol/openid-connect/token"


def load_smoke() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eaf_deploy_smoke", SMOKE_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up by name while the class is made.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


smoke = load_smoke()


@dataclass
class ScriptedEntry:
    """Replies by path; after ``stop_after`` requests it creates ``stop_file``."""

    replies: dict[str, tuple[int, Any]]
    stop_file: Path
    stop_after: int = 1_000_000
    asked: list[str] = field(default_factory=list)


def healthy_replies() -> dict[str, tuple[int, Any]]:
    return {
        "/readyz": (200, {"status": "ready"}),
        "/healthz": (200, {"status": "ok"}),
        "/api/v1/version": (200, {"version": "1.0.0", "revision": "abc"}),
        "/api/v1/licensing/keys": (200, {"keys": [{"kid": "k1", "status": "active"}]}),
        TOKEN_PATH: (200, {"access_token": "token"}),
    }


def make_handler(entry: ScriptedEntry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            entry.asked.append(self.path)
            if len(entry.asked) >= entry.stop_after:
                entry.stop_file.touch()
            status, body = entry.replies.get(self.path, (404, {"title": "Not Found"}))
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            self.answer()

        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            self.answer()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def entry(tmp_path: Path) -> ScriptedEntry:
    return ScriptedEntry(healthy_replies(), tmp_path / "stop")


@pytest.fixture
def url(entry: ScriptedEntry) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(entry))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run(url: str, tmp_path: Path, *args: str) -> int:
    password = tmp_path / "admin"
    password.write_text("secret\n")
    argv = [*args, "--url", url, "--admin-password-file", str(password)]
    return int(smoke.main([*argv, "--ready-timeout", "30"]))


def test_probe_reads_the_licensing_key_set(
    url: str, entry: ScriptedEntry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(url, tmp_path, "probe") == 0

    assert "/api/v1/licensing/keys" in entry.asked
    assert '"license_keys": 1' in capsys.readouterr().out


def test_probe_fails_when_licensing_does_not_answer(
    url: str, entry: ScriptedEntry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry.replies["/api/v1/licensing/keys"] = (503, {"title": "Service Unavailable"})

    assert run(url, tmp_path, "probe") == 1

    assert "/api/v1/licensing/keys: HTTP 503" in capsys.readouterr().err


def test_probe_fails_without_a_keys_list(
    url: str, entry: ScriptedEntry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry.replies["/api/v1/licensing/keys"] = (200, {"items": []})

    assert run(url, tmp_path, "probe") == 1

    assert "no keys list" in capsys.readouterr().err


def test_watch_asks_iam_and_licensing_in_turn(
    url: str, entry: ScriptedEntry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry.stop_after = 4
    stop = ["--stop-file", str(entry.stop_file), "--max-failed", "0"]

    assert run(url, tmp_path, "watch", *stop) == 0

    result = json.loads(capsys.readouterr().out.split(" ok ", 1)[1])
    assert result["by_path"]["/api/v1/version"]["200"] >= 2
    assert result["by_path"]["/api/v1/licensing/keys"]["200"] >= 2
    assert result["failed"] == 0
    assert result["versions"] == ["1.0.0"]


def test_watch_fails_past_max_failed(
    url: str, entry: ScriptedEntry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two failed Licensing answers exceed an allowance of one."""
    entry.replies["/api/v1/licensing/keys"] = (503, {"title": "Service Unavailable"})
    entry.stop_after = 4
    stop = ["--stop-file", str(entry.stop_file), "--max-failed", "1"]

    assert run(url, tmp_path, "watch", *stop) == 1

    assert "2 failed requests (at most 1 allowed)" in capsys.readouterr().err


def test_watch_only_reports_without_max_failed(
    url: str, entry: ScriptedEntry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry.replies["/api/v1/version"] = (502, None)
    entry.stop_after = 2

    assert run(url, tmp_path, "watch", "--stop-file", str(entry.stop_file)) == 0

    assert '"failed": 1' in capsys.readouterr().out


def test_watch_records_how_unanswered_requests_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused connection counts as status 0, with the reason kept."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    argv = ["watch", "--max-seconds", "1", "--max-failed", "0"]

    assert run(closed_url, tmp_path, *argv) == 1

    err = capsys.readouterr().err
    result = json.loads(err.split("allowed): ", 1)[1])
    assert result["by_path"]["/api/v1/version"]["0"] >= 1
    assert "/api/v1/version 0" in result["failures"][0]
    assert "refused" in result["failures"][0].lower()
