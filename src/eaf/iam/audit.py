"""The audit trail of a tenant, read straight from its events.

Events are the record of every change, each with the actor and correlation id
of the command that made it, so the audit trail needs no table of its own.
Payloads are left out: they may hold personal data the auditor does not need.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eaf.db.pool import Database

MAX_PAGE = 500


@dataclass(frozen=True)
class AuditQuery:
    """Filters of one page; ``after`` is the cursor (a position) of the last page."""

    actor: str | None = None
    event_types: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    after: int = 0
    limit: int = 100


async def audit_page(db: Database, slug: str, query: AuditQuery) -> dict[str, Any]:
    """One page of the tenant's audit trail, oldest first, and the next cursor."""
    conditions = ["position > %(after)s"]
    limit = max(1, min(query.limit, MAX_PAGE))
    params: dict[str, Any] = {"after": query.after, "fetch": limit + 1}
    if query.actor:
        conditions.append("metadata->>'actor' = %(actor)s")
        params["actor"] = query.actor
    if query.event_types:
        conditions.append("event_type = ANY(%(types)s)")
        params["types"] = list(query.event_types)
    if query.since:
        conditions.append("recorded_at >= %(since)s")
        params["since"] = query.since
    if query.until:
        conditions.append("recorded_at < %(until)s")
        params["until"] = query.until
    # Row-level security limits the rows to the tenant; the explicit filter
    # lets the planner use the (tenant_id, position) index.
    sql = (
        "SELECT position, event_id, event_type, stream_id, stream_type, "
        "recorded_at, metadata->>'actor' AS actor, "
        "metadata->>'actor_tenant' AS actor_tenant, "
        "metadata->>'correlation_id' AS correlation_id "
        "FROM events WHERE tenant_id = current_setting('eaf.tenant_id') AND "
        + " AND ".join(conditions)
        + " ORDER BY position LIMIT %(fetch)s"
    )
    async with db.transaction(slug) as conn:
        cur = await conn.execute(sql, params)
        rows = list(await cur.fetchall())
    page, has_more = rows[:limit], len(rows) > limit
    return {
        "items": [_entry(row) for row in page],
        "next_cursor": str(page[-1]["position"]) if has_more else None,
    }


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "position": row["position"],
        "event_id": str(row["event_id"]),
        "type": row["event_type"],
        "stream": row["stream_id"],
        "stream_type": row["stream_type"],
        "time": row["recorded_at"],
        "actor": row["actor"],
        "actor_tenant": row["actor_tenant"],
        "correlation_id": row["correlation_id"],
    }
