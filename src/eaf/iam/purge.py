"""Deleting protocol state that can no longer matter.

Refresh tokens, authorization codes, reset tokens, access-token revocations
and login failure counters are short-lived; without a purge their tables
only grow. Each row goes only once nothing can depend on it any more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from eaf.db.pool import Database

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PurgePolicy:
    """How long expired rows are kept for the checks that still read them.

    Args:
        revocation_slack_s: a revoked access token's row outlives the token
            by this much, covering the clock-skew leeway of verifiers.
        reset_interval_s: reset tokens stay this long after being made, as
            the throttle of reset requests counts them.
        lockout_window_s: failure counters stay while they can still lock.
    """

    revocation_slack_s: float = 120.0
    reset_interval_s: float = 60.0
    lockout_window_s: float = 300.0


# A used or expired refresh token, or a used code, still serves reuse
# detection while its family has a live token: presenting it again revokes
# the family. Once the whole family is dead, nothing reads the rows.
_FAMILY_IS_DEAD = (
    "NOT EXISTS (SELECT 1 FROM iam_refresh_tokens live "
    "WHERE live.tenant_id = t.tenant_id AND live.family_id = t.family_id "
    "AND live.expires_at >= now() AND live.revoked_at IS NULL)"
)

# Table -> condition on its rows (alias ``t``) that nothing needs any more.
_EXPIRED: dict[str, str] = {
    "iam_refresh_tokens": f"t.expires_at < now() AND {_FAMILY_IS_DEAD}",
    "iam_authorization_codes": f"t.expires_at < now() AND {_FAMILY_IS_DEAD}",
    "iam_reset_tokens": (
        "t.expires_at < now() AND "
        "t.created_at < now() - make_interval(secs => %(reset_interval_s)s)"
    ),
    "iam_revoked_tokens": (
        "t.expires_at < now() - make_interval(secs => %(revocation_slack_s)s)"
    ),
    "iam_login_failures": (
        "t.first_failed_at < now() - make_interval(secs => %(lockout_window_s)s) "
        "AND (t.locked_until IS NULL OR t.locked_until < now())"
    ),
}


async def purge_tenant(db: Database, slug: str, policy: PurgePolicy) -> dict[str, int]:
    """Delete the tenant's expired protocol rows; the count per table."""
    params = {
        "revocation_slack_s": policy.revocation_slack_s,
        "reset_interval_s": policy.reset_interval_s,
        "lockout_window_s": policy.lockout_window_s,
    }
    counts: dict[str, int] = {}
    async with db.transaction(slug) as conn:
        for table, condition in _EXPIRED.items():
            cur = await conn.execute(
                f"DELETE FROM {table} t WHERE {condition}",  # noqa: S608 - fixed text
                params,
            )
            counts[table] = cur.rowcount
    log.info("iam.expired_state_purged", slug=slug, deleted=sum(counts.values()))
    return counts


async def purge_periodically(
    db: Database,
    tenants: Callable[[], Awaitable[list[str]]],
    policy: PurgePolicy,
    interval_s: float,
    stop: asyncio.Event,
) -> None:
    """Purge every tenant each ``interval_s`` until ``stop`` is set.

    Runs beside the relay, so one process per site does it; a failed round is
    logged and the next one tries again.
    """
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
            return
        except TimeoutError:
            pass
        try:
            for slug in await tenants():
                await purge_tenant(db, slug, policy)
        except Exception:  # noqa: BLE001 - keep the schedule alive
            log.exception("iam.purge_failed")
