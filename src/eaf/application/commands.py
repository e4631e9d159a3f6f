"""Running commands inside an execution context, retrying on conflicts."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from eaf.context import ExecutionContext, use_context
from eaf.eventstore.errors import ConcurrencyError

log = structlog.get_logger(__name__)

T = TypeVar("T")


async def run_command(
    context: ExecutionContext,
    handler: Callable[[], Awaitable[T]],
    *,
    retries: int = 3,
) -> T:
    """Run ``handler`` in ``context``; reload-and-retry on a concurrency conflict.

    Only pass ``retries > 0`` for handlers that load their aggregates afresh on
    every call: the retry then decides again on the newer state, which is safe.
    """
    with use_context(context):
        attempt = 0
        while True:
            try:
                return await handler()
            except ConcurrencyError as exc:
                if attempt >= retries:
                    raise
                attempt += 1
                log.info(
                    "command.retry_on_conflict",
                    stream_id=exc.stream_id,
                    attempt=attempt,
                )
                await asyncio.sleep(random.uniform(0, 0.01 * attempt))  # noqa: S311
