"""The running platform: pools, bus, relay, projections and services, wired."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import structlog

from eaf.bus.nats import NatsBus
from eaf.bus.relay import Relay
from eaf.db.pool import Database
from eaf.eventstore.postgres import PostgresEventStore
from eaf.iam.adapters.keys import KeyStore
from eaf.iam.adapters.mail import MailSender
from eaf.iam.projections import UsersProjection
from eaf.iam.purge import purge_periodically
from eaf.iam.service import IamService
from eaf.iam.tokens import TokenIssuer, TokenVerifier
from eaf.iam.wiring import (
    build_iam_services,
    password_policy_from,
    passwords_from,
    tenant_status_cache,
)
from eaf.licensing.application import Licensing, licensing_key_secret
from eaf.licensing.projections import licensing_projections
from eaf.projections.base import Projection
from eaf.projections.runner import ProjectionRunner
from eaf.settings import Settings

log = structlog.get_logger(__name__)


def all_projections() -> list[Projection]:
    """Every projection the platform's services define."""
    return [UsersProjection(), *licensing_projections()]


@dataclass
class PlatformOptions:
    runtime_dsn: str
    nats_url: str
    secret: bytes
    public_url: str
    run_relay: bool = True
    run_projections: bool = True
    projections: list[Projection] = field(default_factory=all_projections)
    mail_sender: MailSender | None = None


class Platform:
    """Owns the connections and background workers of one EAF process."""

    def __init__(self, settings: Settings, options: PlatformOptions) -> None:
        self.settings = settings
        self.options = options
        self.platform_tenant = settings.bootstrap_tenant
        self.public_url = options.public_url.rstrip("/")
        self.db = Database(
            options.runtime_dsn,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
        )
        self.store = PostgresEventStore(
            self.db, lock_idle_timeout_s=settings.append_idle_timeout_s
        )
        self.bus = NatsBus(
            options.nats_url,
            stream_name=settings.stream_name,
            subject_prefix=settings.subject_prefix,
            replicas=settings.stream_replicas,
            duplicate_window_s=settings.duplicate_window_s,
            tls_ca=settings.nats_tls_ca,
        )
        self.keys = KeyStore(self.db, options.secret)
        self.licensing = Licensing(
            self.db,
            self.store,
            vendor=self.platform_tenant,
            key_secret=licensing_key_secret(options.secret),
        )
        self.iam = IamService(
            self.db,
            self.store,
            self.keys,
            platform_tenant=self.platform_tenant,
            snapshot_every=settings.snapshot_every,
            user_quota=self.licensing.user_quota,
            passwords=passwords_from(settings),
            password_policy=password_policy_from(settings),
        )
        self.issuer = TokenIssuer(
            self.keys, self.issuer_for, settings.access_token_ttl_s
        )
        self.verifier = TokenVerifier(
            self.keys, self.issuer_for, tenant_status_cache(self.db, settings)
        )
        self.iam_services = build_iam_services(
            self.db,
            self.store,
            self.keys,
            self.issuer,
            self.verifier,
            settings,
            self.issuer_for,
            passwords=self.iam.passwords,
            mail=options.mail_sender,
        )
        self.relay = Relay(
            options.runtime_dsn,
            self.store,
            self.bus,
            checkpoint_delay_s=settings.relay_checkpoint_delay_s,
        )
        self.runners = [
            ProjectionRunner(
                self.db,
                self.bus,
                projection,
                max_attempts=settings.consumer_max_attempts,
                max_deliver=settings.consumer_max_deliver,
                ack_wait_s=settings.consumer_ack_wait_s,
            )
            for projection in options.projections
        ]
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._relay_task: asyncio.Task[None] | None = None

    def issuer_for(self, tenant_id: str) -> str:
        return f"{self.public_url}/realms/{tenant_id}"

    async def start(self) -> None:
        await self.db.open()
        await self.bus.connect()
        await self.bus.ensure_stream()
        if self.options.run_relay:
            self._relay_task = asyncio.create_task(self.relay.run(self._stop))
            self._tasks.append(self._relay_task)
        if self.options.run_relay and self.settings.iam_purge_interval_s > 0:
            self._tasks.append(
                asyncio.create_task(
                    purge_periodically(
                        self.db,
                        self._tenant_slugs,
                        self.iam_services.purge_policy,
                        self.settings.iam_purge_interval_s,
                        self._stop,
                    )
                )
            )
        if self.options.run_projections:
            for runner in self.runners:
                self._tasks.append(asyncio.create_task(runner.run(self._stop)))
        log.info("platform.started", tasks=len(self._tasks))

    async def _tenant_slugs(self) -> list[str]:
        return [str(row["slug"]) for row in await self.iam.list_tenants()]

    async def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout_s)
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)
        self._tasks.clear()
        await self.bus.close()
        await self.db.close()
        log.info("platform.stopped")

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {
            "postgres": await self.db.is_reachable(),
            "nats": await self.bus.is_ready(),
        }
        if self.options.run_relay:
            running = self._relay_task is not None and not self._relay_task.done()
            checks["relay"] = self.relay.is_healthy and running
        if self.options.run_projections:
            checks["projections"] = all(runner.is_healthy for runner in self.runners)
        return checks
