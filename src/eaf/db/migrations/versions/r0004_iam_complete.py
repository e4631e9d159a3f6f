"""IAM complete: roles, service accounts, OAuth clients and grants, lockout.

Adds the write-side lookup tables that commands keep in step with the events
(roles, service accounts, browser clients), the short-lived protocol state of
the token endpoint (refresh tokens, authorization codes, reset tokens, revoked
access tokens, login failures), a publication window for retired signing keys,
a display name in the users view and an index for the audit feed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from alembic import op

from eaf.db.migrations._roles import grant_rw, tenant_policy

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = {
    "iam_roles": """
        tenant_id   text        NOT NULL,
        name        text        NOT NULL,
        description text        NOT NULL DEFAULT '',
        permissions jsonb       NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, name)
    """,
    "iam_service_accounts": """
        tenant_id   text        NOT NULL,
        client_id   text        NOT NULL,
        account_id  text        NOT NULL,
        name        text        NOT NULL,
        roles       jsonb       NOT NULL,
        secret_hash text        NOT NULL,
        status      text        NOT NULL DEFAULT 'active',
        created_at  timestamptz NOT NULL DEFAULT now(),
        rotated_at  timestamptz,
        PRIMARY KEY (tenant_id, client_id),
        UNIQUE (tenant_id, account_id)
    """,
    "iam_clients": """
        tenant_id     text        NOT NULL,
        client_id     text        NOT NULL,
        name          text        NOT NULL,
        redirect_uris jsonb       NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, client_id)
    """,
    "iam_refresh_tokens": """
        tenant_id  text        NOT NULL,
        token_hash text        NOT NULL,
        family_id  uuid        NOT NULL,
        subject    text        NOT NULL,
        client_id  text        NOT NULL,
        scope      text        NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at    timestamptz,
        revoked_at timestamptz,
        PRIMARY KEY (tenant_id, token_hash)
    """,
    "iam_authorization_codes": """
        tenant_id      text        NOT NULL,
        code_hash      text        NOT NULL,
        client_id      text        NOT NULL,
        redirect_uri   text        NOT NULL,
        subject        text        NOT NULL,
        scope          text        NOT NULL,
        nonce          text,
        code_challenge text        NOT NULL,
        auth_time      bigint      NOT NULL,
        family_id      uuid        NOT NULL,
        expires_at     timestamptz NOT NULL,
        used_at        timestamptz,
        PRIMARY KEY (tenant_id, code_hash)
    """,
    "iam_reset_tokens": """
        tenant_id  text        NOT NULL,
        token_hash text        NOT NULL,
        user_id    text        NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at    timestamptz,
        PRIMARY KEY (tenant_id, token_hash)
    """,
    "iam_revoked_tokens": """
        tenant_id  text        NOT NULL,
        jti        text        NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, jti)
    """,
    "iam_login_failures": """
        tenant_id       text        NOT NULL,
        username_lower  text        NOT NULL,
        failures        integer     NOT NULL,
        first_failed_at timestamptz NOT NULL,
        locked_until    timestamptz,
        PRIMARY KEY (tenant_id, username_lower)
    """,
}


def upgrade() -> None:
    for table, columns in TABLES.items():
        op.execute(f"CREATE TABLE {table} ({columns})")
        grant_rw(table)
        tenant_policy(table)
    op.execute(
        "CREATE INDEX iam_refresh_tokens_family ON iam_refresh_tokens "
        "(tenant_id, family_id)"
    )
    op.execute(
        "CREATE INDEX iam_refresh_tokens_subject ON iam_refresh_tokens "
        "(tenant_id, subject)"
    )
    op.execute("ALTER TABLE iam_users ADD COLUMN display_name text NOT NULL DEFAULT ''")
    # A retired key stays in the JWKS until every token it signed has expired.
    op.execute("ALTER TABLE iam_signing_keys ADD COLUMN publish_until timestamptz")
    # The audit feed pages through one tenant's events by position.
    op.execute("CREATE INDEX events_tenant_position ON events (tenant_id, position)")


def downgrade() -> None:
    op.execute("DROP INDEX events_tenant_position")
    op.execute("ALTER TABLE iam_signing_keys DROP COLUMN publish_until")
    op.execute("ALTER TABLE iam_users DROP COLUMN display_name")
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table}")
