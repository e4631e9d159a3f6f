"""A platform served by uvicorn on 127.0.0.1, in a thread with its own loop.

Synchronous callers (Schemathesis, the CLI) talk to it over real HTTP while
the test's own event loop stays free.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from eaf.bus.nats import NatsBus
from eaf.http.app import create_app
from eaf.iam.bootstrap import bootstrap_platform
from eaf.runtime.platform import Platform, PlatformOptions
from eaf.settings import Settings, load_settings
from tests.support import servers as test_servers

ADMIN_PASSWORD = "admin-password-1"  # noqa: S105 - throwaway test account


@dataclass
class LiveSite:
    url: str
    settings: Settings
    database: test_servers.ClonedDatabase


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(
    site: dict[str, Any],
    settings: Settings,
    database: test_servers.ClonedDatabase,
    nats_url: str,
    ready: threading.Event,
    stop: threading.Event,
) -> None:
    options = PlatformOptions(
        runtime_dsn=database.runtime_dsn,
        nats_url=nats_url,
        secret=b"test-signing-secret",
        public_url="http://127.0.0.1",  # replaced once the port is known
    )
    platform = Platform(settings, options)
    await platform.start()
    await bootstrap_platform(
        platform.iam,
        tenant=settings.bootstrap_tenant,
        username=settings.bootstrap_admin_username,
        password=ADMIN_PASSWORD,
        data_dir=settings.data_dir,
    )
    config = uvicorn.Config(
        create_app(platform),
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = _QuietServer(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers only a flag
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    platform.public_url = site["url"] = f"http://127.0.0.1:{port}"
    ready.set()
    while not stop.is_set():  # noqa: ASYNC110 - stopped from another thread
        await asyncio.sleep(0.05)
    server.should_exit = True
    await serving
    await platform.stop()
    bus = NatsBus(nats_url, stream_name=settings.stream_name)
    await bus.connect()
    try:
        await bus.js.delete_stream(settings.stream_name)
    finally:
        await bus.close()


@contextlib.contextmanager
def live_site(
    servers: test_servers.Servers,
    template: str,
    data_dir: Path,
    **overrides: Any,
) -> Iterator[LiveSite]:
    """Serve a fresh, bootstrapped platform until the block ends."""
    database = test_servers.clone_database(servers, template)
    suffix = uuid.uuid4().hex[:10]
    settings = load_settings(
        data_dir=data_dir,
        stream_name=f"L{suffix}",
        subject_prefix=f"l{suffix}",
        password_hash_memory_kib=8192,
        password_hash_time_cost=1,
        **overrides,
    )
    site: dict[str, Any] = {}
    ready, stop = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(_serve(site, settings, database, servers.nats_url, ready, stop))
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="live-site", daemon=True)
    thread.start()
    ready.wait(timeout=60)
    try:
        if failure:
            raise failure[0]
        yield LiveSite(site["url"], settings, database)
    finally:
        stop.set()
        thread.join(timeout=30)
        test_servers.drop_database(servers, database.name)


def admin_headers_for(site: LiveSite) -> dict[str, str]:
    """A bearer header of the bootstrap superadmin of ``site``."""
    answer = httpx.post(
        f"{site.url}/realms/default/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "eaf-cli",
            "username": "admin",
            "password": ADMIN_PASSWORD,
        },
    )
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}
