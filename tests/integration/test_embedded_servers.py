"""The embedded PostgreSQL and NATS servers that `eaf up` starts on a bare host.

Every test starts real servers from the wheels in fresh data directories.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nats
import psutil
import psycopg
import pytest

from eaf.runtime import (
    DataDirInUseError,
    DataDirLock,
    EmbeddedNats,
    EmbeddedPostgres,
    EmbeddedServerError,
)

# Started as a separate process, so that the test can SIGKILL the parent.
SUPERVISOR_SCRIPT = """
import json, sys, time
from pathlib import Path
from eaf.runtime import DataDirLock, EmbeddedNats, EmbeddedPostgres

data_dir = Path(sys.argv[1])
DataDirLock(data_dir).acquire()
pids = {}
if sys.argv[2] == "servers":
    postgres = EmbeddedPostgres(data_dir)
    postgres.start()
    nats = EmbeddedNats(data_dir)
    nats.start()
    pids = {"postgres": postgres.pid, "nats": nats.pid}
print("READY " + json.dumps(pids), flush=True)
time.sleep(120)
"""


@contextlib.contextmanager
def fresh_data_dir() -> Iterator[Path]:
    """A data directory outside pytest's own temporary tree.

    Each pytest session resets /tmp/pytest-of-<user> to mode 0700, which would
    lock the unprivileged PostgreSQL user out of a cluster another session is
    creating; a directory of our own keeps the tests independent.
    """
    path = Path(tempfile.mkdtemp(prefix="eaf-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with fresh_data_dir() as path:
        yield path


@pytest.fixture
def postgres(data_dir: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(data_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shared_postgres() -> Iterator[EmbeddedPostgres]:
    """One server for the tests that only look at it, to save an initdb each."""
    with fresh_data_dir() as path:
        server = EmbeddedPostgres(path)
        server.start()
        yield server
        server.stop()


@pytest.fixture
def nats_server(data_dir: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(data_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def supervisor() -> Iterator[list[subprocess.Popen[str]]]:
    """Runs the supervisor script; kills what is left of it after the test."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def start_supervisor(
    started: list[subprocess.Popen[str]], data_dir: Path, mode: str
) -> tuple[subprocess.Popen[str], dict[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR_SCRIPT, str(data_dir), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    started.append(proc)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("READY "):
            return proc, json.loads(line.removeprefix("READY "))
    pytest.fail(f"supervisor exited with code {proc.wait()} before it was ready")


def process_tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def still_running(procs: list[psutil.Process]) -> list[psutil.Process]:
    """The processes that are neither gone nor zombies waiting to be reaped."""
    running = []
    for proc in procs:
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                running.append(proc)
        except psutil.NoSuchProcess:
            pass
    return running


def test_postgres_answers_select_one(shared_postgres: EmbeddedPostgres) -> None:
    with psycopg.connect(shared_postgres.admin_url) as conn:
        row = conn.execute("SELECT 1, current_database()").fetchone()

    url = shared_postgres.admin_url
    assert row == (1, "eaf")
    assert url.startswith("postgresql://postgres:")
    assert url.endswith(f"@127.0.0.1:{shared_postgres.port}/eaf")


async def test_nats_acknowledges_jetstream_publish(nats_server: EmbeddedNats) -> None:
    client = await nats.connect(nats_server.url)
    jetstream = client.jetstream()
    await jetstream.add_stream(name="ORDERS", subjects=["orders.>"])

    ack = await jetstream.publish("orders.created", b"first")
    await client.close()

    assert nats_server.url == f"nats://127.0.0.1:{nats_server.port}"
    assert (ack.stream, ack.seq) == ("ORDERS", 1)


def test_stop_leaves_no_server_process(
    postgres: EmbeddedPostgres, nats_server: EmbeddedNats
) -> None:
    """Stopping kills the postmaster, its backends and NATS, even with a client."""
    postgres_pid, nats_pid = postgres.pid, nats_server.pid
    assert postgres_pid is not None
    assert nats_pid is not None
    client = psycopg.connect(postgres.admin_url)
    servers = process_tree(postgres_pid) + process_tree(nats_pid)

    postgres.stop()
    nats_server.stop()
    nats_server.stop()

    assert still_running(servers) == []
    assert (postgres.pid, nats_server.pid) == (None, None)
    client.close()


def test_stop_kills_server_that_hangs(postgres: EmbeddedPostgres) -> None:
    """A postmaster that does not shut down in time is killed with its backends."""
    assert postgres.pid is not None
    client = psycopg.connect(postgres.admin_url)
    servers = process_tree(postgres.pid)
    os.kill(postgres.pid, signal.SIGSTOP)

    postgres.stop(timeout_s=0.5)

    assert still_running(servers) == []
    client.close()


def test_postgres_runs_in_deeply_nested_data_dir(data_dir: Path) -> None:
    """A socket path past the 107-byte limit moves the socket to a temp dir."""
    server = EmbeddedPostgres(data_dir / ("nested-" * 12))
    server.start()
    try:
        with psycopg.connect(server.admin_url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()


def test_postgres_listens_only_on_loopback(shared_postgres: EmbeddedPostgres) -> None:
    assert shared_postgres.pid is not None
    listening = psutil.Process(shared_postgres.pid).net_connections(kind="inet")

    addresses = {conn.laddr for conn in listening if conn.status == "LISTEN"}

    assert addresses == {("127.0.0.1", shared_postgres.port)}


@pytest.mark.skipif(os.geteuid() != 0, reason="the service user is only for root")
def test_postgres_runs_unprivileged_under_root(
    shared_postgres: EmbeddedPostgres,
) -> None:
    assert shared_postgres.pid is not None
    owners = {proc.username() for proc in process_tree(shared_postgres.pid)}

    assert owners == {"eaf-postgres"}


def test_superuser_password_stays_private(shared_postgres: EmbeddedPostgres) -> None:
    """The password file is 0600 and the password never reaches the log."""
    password = shared_postgres.password_file.read_text().strip()
    mode = stat.S_IMODE(shared_postgres.password_file.stat().st_mode)

    assert mode == 0o600
    assert len(password) >= 32
    assert f":{password}@" in shared_postgres.admin_url
    assert password not in shared_postgres.log_path.read_text()


async def test_restart_keeps_data_on_same_port(
    postgres: EmbeddedPostgres, nats_server: EmbeddedNats
) -> None:
    with psycopg.connect(postgres.admin_url) as conn:
        conn.execute("CREATE TABLE notes (body text)")
        conn.execute("INSERT INTO notes VALUES ('kept')")
    client = await nats.connect(nats_server.url)
    await client.jetstream().add_stream(name="NOTES", subjects=["notes"])
    await client.jetstream().publish("notes", b"kept")
    await client.close()
    ports, pids = (postgres.port, nats_server.port), (postgres.pid, nats_server.pid)

    postgres.restart()
    nats_server.restart()

    assert (postgres.port, nats_server.port) == ports
    assert (postgres.pid, nats_server.pid) != pids
    with psycopg.connect(postgres.admin_url) as conn:
        assert conn.execute("SELECT body FROM notes").fetchall() == [("kept",)]
    client = await nats.connect(nats_server.url)
    message = await client.jetstream().get_msg("NOTES", 1)
    await client.close()
    assert message.data == b"kept"


def test_new_instance_reuses_remembered_port(data_dir: Path) -> None:
    first = EmbeddedNats(data_dir)
    first.start()
    first.stop()

    second = EmbeddedNats(data_dir)
    second.start()
    second.stop()

    assert second.port == first.port


def test_start_moves_to_new_port_when_taken(data_dir: Path) -> None:
    first = EmbeddedNats(data_dir)
    first.start()
    first.stop()

    with socket.create_server(("127.0.0.1", first.port)):
        second = EmbeddedNats(data_dir)
        second.start()
        second.stop()

    remembered = json.loads((data_dir / "ports.json").read_text())
    assert second.port != first.port
    assert remembered["nats"] == second.port


def test_failed_start_reports_log_tail(data_dir: Path) -> None:
    (data_dir / "nats").write_text("a file where the store directory belongs")
    server = EmbeddedNats(data_dir)

    with pytest.raises(EmbeddedServerError) as raised:
        server.start()

    assert str(server.log_path) in str(raised.value)
    assert "storage directory is not a directory" in str(raised.value)
    assert server.pid is None


def test_second_lock_names_the_holder(data_dir: Path) -> None:
    with DataDirLock(data_dir), pytest.raises(DataDirInUseError) as raised:
        DataDirLock(data_dir).acquire()

    assert raised.value.holder_pid == os.getpid()
    assert str(os.getpid()) in str(raised.value)
    assert str(data_dir) in str(raised.value)


def test_lock_of_killed_process_is_reacquirable(
    data_dir: Path, supervisor: list[subprocess.Popen[str]]
) -> None:
    holder, _ = start_supervisor(supervisor, data_dir, "lock-only")
    with pytest.raises(DataDirInUseError, match=f"process {holder.pid}"):
        DataDirLock(data_dir).acquire()

    holder.send_signal(signal.SIGKILL)
    holder.wait()

    with DataDirLock(data_dir) as lock:
        assert lock.is_held


@pytest.mark.slow
def test_killed_parent_takes_servers_down(
    data_dir: Path, supervisor: list[subprocess.Popen[str]]
) -> None:
    """SIGKILL of `eaf up` stops both servers; a new start takes over the data."""
    parent, pids = start_supervisor(supervisor, data_dir, "servers")
    servers = process_tree(pids["postgres"]) + process_tree(pids["nats"])
    try:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        _, alive = psutil.wait_procs(servers, timeout=10)
        assert alive == []
    finally:
        for proc in servers:
            if proc.is_running():
                proc.kill()

    postgres = EmbeddedPostgres(data_dir)
    postgres.start()
    postgres.stop()
