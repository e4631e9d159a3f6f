"""Starting EAF processes: servers (embedded or external), migrations, HTTP.

``eaf up`` starts embedded PostgreSQL and NATS when no URLs are set, migrates,
bootstraps and serves everything in one process. ``eaf serve`` runs one role
against servers that already exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog
import uvicorn

from eaf.db import migrate
from eaf.errors import ConfigurationError, InfrastructureError
from eaf.http.app import create_app
from eaf.iam.bootstrap import BootstrapResult, bootstrap_platform
from eaf.profiles import check_settings
from eaf.runtime.platform import Platform, PlatformOptions
from eaf.settings import Settings

log = structlog.get_logger(__name__)

RUNTIME_FILE = "runtime.json"

# Embedded servers of this process and a check that each is still running.
_watched: dict[str, Callable[[], bool]] = {}


def embedded_failure() -> str | None:
    """Which embedded server died, if one did."""
    for name, is_running in _watched.items():
        if not is_running():
            return name
    return None


async def _watch_embedded(stop: asyncio.Event, failed: list[str]) -> None:
    while not stop.is_set():
        name = embedded_failure()
        if name is not None:
            log.error("runtime.embedded_server_died", server=name)
            failed.append(name)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


@dataclass(frozen=True)
class Connections:
    owner_dsn: str | None
    runtime_dsn: str
    nats_url: str


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """A random secret kept in ``path`` (mode 0600), made on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as stream:
        stream.write(value + "\n")
    return value


def signing_secret(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    return read_or_create_secret(settings.data_dir / "secret.key").encode()


def runtime_password(settings: Settings) -> str | None:
    if settings.runtime_password is not None:
        return settings.runtime_password.get_secret_value()
    if settings.database_url is None:
        return read_or_create_secret(settings.data_dir / "runtime-password.txt", 24)
    return None


def external_connections(settings: Settings) -> Connections:
    """Connections from settings, or from the runtime file of a running `eaf up`."""
    if settings.database_url or settings.database_runtime_url:
        if not settings.nats_url:
            raise ConfigurationError("EAF_NATS_URL must be set with EAF_DATABASE_URL")
        runtime = settings.database_runtime_url or migrate.runtime_dsn(
            str(settings.database_url),
            settings.runtime_role,
            runtime_password(settings),
        )
        return Connections(settings.database_url, runtime, settings.nats_url)
    runtime_file = settings.data_dir / RUNTIME_FILE
    if not runtime_file.exists():
        raise ConfigurationError(
            "no servers configured and no running `eaf up` found in "
            f"{settings.data_dir}; "
            "start `eaf up` or set EAF_DATABASE_URL and EAF_NATS_URL"
        )
    return Connections(**json.loads(runtime_file.read_text()))


@contextlib.contextmanager
def embedded_servers(settings: Settings) -> Iterator[Connections]:
    """Start whichever servers are not configured externally; stop them after."""
    from eaf.runtime.embedded import DataDirLock, EmbeddedNats, EmbeddedPostgres

    data_dir = settings.data_dir.absolute()
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        lock = DataDirLock(data_dir)
        lock.acquire()
        stack.callback(lock.release)
        owner_dsn = settings.database_url
        if owner_dsn is None:
            postgres = EmbeddedPostgres(data_dir)
            postgres.start()
            stack.callback(postgres.stop)
            _watched["PostgreSQL"] = lambda: postgres.pid is not None
            stack.callback(_watched.pop, "PostgreSQL", None)
            owner_dsn = postgres.admin_url
        nats_url = settings.nats_url
        if nats_url is None:
            nats = EmbeddedNats(data_dir)
            nats.start()
            stack.callback(nats.stop)
            _watched["NATS"] = lambda: nats.pid is not None
            stack.callback(_watched.pop, "NATS", None)
            nats_url = nats.url
        password = runtime_password(settings)
        runtime = settings.database_runtime_url or migrate.runtime_dsn(
            owner_dsn, settings.runtime_role, password
        )
        connections = Connections(owner_dsn, runtime, nats_url)
        runtime_file = data_dir / RUNTIME_FILE
        fd = os.open(runtime_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as stream:
            json.dump(asdict(connections), stream)
        stack.callback(runtime_file.unlink, missing_ok=True)
        yield connections


def refuse_unfit_settings(settings: Settings) -> None:
    """Staging and production refuse to start on development settings."""
    problems = check_settings(settings)
    if problems:
        listed = "; ".join(f"{p.setting}: {p.message}" for p in problems)
        raise ConfigurationError(
            f"settings unfit for {settings.environment}: {listed}; "
            f"see `eaf config check --env {settings.environment}`"
        )


def check_port_free(host: str, port: int) -> None:
    """Fail before starting anything if the HTTP port is taken."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on {host}:{port} ({exc.strerror}); "
                "stop what uses it or choose another --port"
            ) from exc


def public_url_for(settings: Settings, host: str, port: int) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    return f"http://{shown}:{port}"


class _Server(uvicorn.Server):
    """Uvicorn without its own signal handling: the launcher owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_platform(
    settings: Settings,
    connections: Connections,
    *,
    host: str,
    port: int,
    serve_http: bool = True,
    run_relay: bool = True,
    run_projections: bool = True,
    http_services: Collection[str] | None = None,
    bootstrap: bool = False,
    on_ready: Callable[[Platform, BootstrapResult | None], None] | None = None,
) -> None:
    """Run until SIGINT or SIGTERM, then stop everything in order."""
    options = PlatformOptions(
        runtime_dsn=connections.runtime_dsn,
        nats_url=connections.nats_url,
        secret=signing_secret(settings),
        public_url=public_url_for(settings, host, port),
        run_relay=run_relay,
        run_projections=run_projections,
    )
    platform = Platform(settings, options)
    stop = asyncio.Event()
    failed: list[str] = []
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await platform.start()
    server: _Server | None = None
    serving: asyncio.Task[None] | None = None
    try:
        result = None
        if bootstrap:
            result = await bootstrap_platform(
                platform.iam,
                tenant=settings.bootstrap_tenant,
                username=settings.bootstrap_admin_username,
                password=_secret_value(settings.bootstrap_admin_password),
                data_dir=settings.data_dir,
            )
        if serve_http:
            config = uvicorn.Config(
                create_app(platform, http_services),
                host=host,
                port=port,
                log_config=None,
                access_log=False,
                lifespan="off",
            )
            server = _Server(config)
            serving = asyncio.create_task(server.serve())
            # uvicorn only exposes a flag for "listening", so poll it briefly.
            while not server.started and not serving.done():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            if serving.done():
                serving.result()
        if on_ready is not None:
            on_ready(platform, result)
        waiters: set[asyncio.Future[object]] = {asyncio.ensure_future(stop.wait())}
        watcher = asyncio.create_task(_watch_embedded(stop, failed))
        if serving is not None:
            waiters.add(serving)  # type: ignore[arg-type]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        watcher.cancel()
    finally:
        if server is not None and serving is not None:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(serving, timeout=5)
        await platform.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if failed:
        raise InfrastructureError(
            f"the embedded {failed[0]} server stopped unexpectedly; EAF shut down. "
            f"See the logs under {settings.data_dir / 'logs'} and start `eaf up` again"
        )


def _secret_value(secret: object) -> str | None:
    getter = getattr(secret, "get_secret_value", None)
    return getter() if getter else None


def migrate_servers(settings: Settings, connections: Connections) -> None:
    if connections.owner_dsn is None:
        raise ConfigurationError("migrations need EAF_DATABASE_URL (the owner DSN)")
    migrate.upgrade(
        connections.owner_dsn, settings.runtime_role, runtime_password(settings)
    )
