"""IAM: tenant registry, uniqueness claims, credentials, signing keys, users view.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from alembic import op

from eaf.db.migrations._roles import grant_rw, tenant_policy

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "iam_usernames",
    "iam_emails",
    "iam_credentials",
    "iam_signing_keys",
    "iam_users",
)


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE iam_tenants (
            slug       text        PRIMARY KEY,
            name       text        NOT NULL,
            status     text        NOT NULL DEFAULT 'active',
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE iam_usernames (
            tenant_id      text NOT NULL,
            username_lower text NOT NULL,
            user_id        text NOT NULL,
            PRIMARY KEY (tenant_id, username_lower)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE iam_emails (
            tenant_id   text NOT NULL,
            email_lower text NOT NULL,
            user_id     text NOT NULL,
            PRIMARY KEY (tenant_id, email_lower)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE iam_credentials (
            tenant_id     text        NOT NULL,
            user_id       text        NOT NULL,
            password_hash text        NOT NULL,
            updated_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, user_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE iam_signing_keys (
            tenant_id   text        NOT NULL,
            kid         text        NOT NULL,
            algorithm   text        NOT NULL,
            private_key bytea       NOT NULL,
            public_jwk  jsonb       NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now(),
            retired_at  timestamptz,
            PRIMARY KEY (tenant_id, kid)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE iam_users (
            tenant_id  text        NOT NULL,
            user_id    text        NOT NULL,
            username   text        NOT NULL,
            email      text        NOT NULL,
            roles      jsonb       NOT NULL,
            status     text        NOT NULL,
            created_at timestamptz NOT NULL,
            position   bigint      NOT NULL,
            PRIMARY KEY (tenant_id, user_id)
        )
        """
    )
    grant_rw("iam_tenants", *TENANT_TABLES)
    for table in TENANT_TABLES:
        tenant_policy(table)


def downgrade() -> None:
    for table in ("iam_tenants", *TENANT_TABLES):
        op.execute(f"DROP TABLE {table}")
