"""Revisions expand the schema; only declared contract revisions take away."""

from __future__ import annotations

import pytest

from eaf.db import migrate
from eaf.db.migrations._compat import CONTRACT_MARKER, breaches_in, statements_of

REVISIONS = migrate.revision_chain()


def upgrade_script(down: str | None, revision: str) -> str:
    return migrate.upgrade_sql(
        "postgresql://", "eaf_app", revision, start=down or "base"
    )


@pytest.mark.parametrize(("down", "revision"), REVISIONS, ids=[r for _, r in REVISIONS])
def test_revision_is_expand_only_unless_declared_contract(
    down: str | None, revision: str
) -> None:
    """A revision without a ``contract`` marker may only add."""
    marker = getattr(migrate.revision_module(revision), CONTRACT_MARKER, None)
    if marker is not None:
        assert isinstance(marker, str), f"{revision}: contract must say why"
        assert marker.strip(), f"{revision}: contract must say why"
        return

    breaches = breaches_in(upgrade_script(down, revision))

    assert breaches == [], f"revision {revision} is not expand-only"


def test_checker_flags_real_downgrade_scripts() -> None:
    """Downgrades take away, so the check on Alembic's own output finds them."""
    for down, revision in REVISIONS:
        script = migrate.downgrade_sql(
            "postgresql://", "eaf_app", down or "base", start=revision
        )

        assert breaches_in(script), f"downgrade of {revision} passed the check"


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE iam_users DROP COLUMN email",
        "DROP TABLE iam_roles",
        "DROP INDEX events_tenant_position",
        "ALTER TABLE iam_users RENAME COLUMN email TO mail",
        "ALTER TABLE iam_users RENAME TO people",
        "ALTER TABLE iam_users ALTER COLUMN position TYPE integer",
        "ALTER TABLE iam_users ALTER position SET DATA TYPE integer",
        "ALTER TABLE iam_users ALTER COLUMN email SET NOT NULL",
        "ALTER TABLE iam_users ALTER COLUMN status DROP DEFAULT",
        "ALTER TABLE iam_users ALTER COLUMN display_name DROP NOT NULL",
        "ALTER TABLE iam_users ADD COLUMN phone text NOT NULL",
        "ALTER TABLE iam_users ADD COLUMN a text, ADD COLUMN b int NOT NULL",
        "ALTER TABLE iam_users ADD COLUMN manager text REFERENCES iam_users",
        "ALTER TABLE iam_users ADD CONSTRAINT email_lower CHECK (email = lower(email))",
        "ALTER TABLE iam_users ADD UNIQUE (tenant_id, email)",
        "CREATE UNIQUE INDEX iam_users_email ON iam_users (tenant_id, email)",
        "ALTER TABLE checkpoints ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE iam_users FORCE ROW LEVEL SECURITY",
        "CREATE POLICY only_active ON iam_users USING (status = 'active')",
        "REVOKE UPDATE ON iam_users FROM eaf_app",
        "REVOKE EXECUTE ON FUNCTION eaf_head_position() FROM eaf_app",
        "TRUNCATE checkpoints",
        "DELETE FROM iam_login_failures",
    ],
)
def test_checker_flags_change_the_old_release_cannot_survive(statement: str) -> None:
    breaches = breaches_in(statement + ";")

    assert len(breaches) == 1


@pytest.mark.parametrize(
    "script",
    [
        "CREATE TABLE iam_groups (tenant_id text NOT NULL, name text NOT NULL);"
        "ALTER TABLE iam_groups ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY tenant_isolation ON iam_groups USING (true);"
        "CREATE UNIQUE INDEX iam_groups_name ON iam_groups (tenant_id, name);"
        "ALTER TABLE iam_groups ADD CONSTRAINT named CHECK (name <> '');"
        "GRANT SELECT, INSERT, UPDATE, DELETE ON iam_groups TO eaf_app",
        "ALTER TABLE iam_users ADD COLUMN phone text",
        "ALTER TABLE iam_users ADD COLUMN locale text NOT NULL DEFAULT 'en'",
        "ALTER TABLE iam_users ADD COLUMN type text",
        "ALTER TABLE iam_users ALTER COLUMN status SET DEFAULT 'active'",
        "CREATE INDEX iam_users_email ON iam_users (tenant_id, email)",
        "CREATE INDEX CONCURRENTLY iam_users_email ON iam_users (email)",
        "UPDATE iam_users SET display_name = username WHERE display_name = ''",
        "CREATE FUNCTION eaf_purge() RETURNS void LANGUAGE sql AS $$ "
        "DELETE FROM checkpoints; DROP TABLE x $$;"
        "REVOKE ALL ON FUNCTION eaf_purge FROM PUBLIC",
        "COMMENT ON COLUMN iam_users.email IS 'DROP TABLE is not run here'",
    ],
)
def test_checker_allows_additions(script: str) -> None:
    assert breaches_in(script) == []


def test_statements_ignore_comments_and_bodies() -> None:
    script = "-- DROP TABLE x;\nCREATE FUNCTION f() AS $body$ a; b $body$;\nSELECT 1;"

    assert statements_of(script) == ["CREATE FUNCTION f() AS $$ $$", "SELECT 1"]
