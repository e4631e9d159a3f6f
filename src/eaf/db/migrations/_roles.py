"""Helpers shared by revisions: the runtime role name and grants to it."""

from __future__ import annotations

from alembic import context, op


def runtime_role() -> str:
    """The non-owner role services connect as, given to Alembic by `eaf migrate`."""
    role = context.config.attributes.get("runtime_role", "eaf_app")
    if not str(role).replace("_", "").isalnum():
        raise ValueError(f"invalid runtime role name {role!r}")
    return str(role)


def grant_rw(*tables: str) -> None:
    for table in tables:
        op.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {runtime_role()}"
        )


def tenant_policy(table: str) -> None:
    """Row-level security keyed on the per-transaction tenant setting."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        "USING (tenant_id = current_setting('eaf.tenant_id', true)) "
        "WITH CHECK (tenant_id = current_setting('eaf.tenant_id', true))"
    )
