"""Licensing: signing keys, seats, the platform license and read models.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from alembic import op

from eaf.db.migrations._roles import grant_rw, runtime_role, tenant_policy

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Every row belongs to the vendor tenant that issues the licenses.
TENANT_TABLES = (
    "licensing_signing_keys",
    "licensing_seat_limits",
    "licensing_seats",
    "licensing_products",
    "licensing_policies",
    "licensing_licenses",
)


def _create_write_side() -> None:
    op.execute(
        """
        CREATE TABLE licensing_signing_keys (
            tenant_id   text        NOT NULL,
            kid         text        NOT NULL,
            status      text        NOT NULL
                        CHECK (status IN ('active', 'retired', 'revoked')),
            private_key bytea       NOT NULL,
            public_jwk  jsonb       NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now(),
            retired_at  timestamptz,
            revoked_at  timestamptz,
            PRIMARY KEY (tenant_id, kid)
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX licensing_signing_keys_one_active "
        "ON licensing_signing_keys (tenant_id) WHERE status = 'active'"
    )
    op.execute(
        """
        CREATE TABLE licensing_seat_limits (
            tenant_id  text    NOT NULL,
            license_id text    NOT NULL,
            customer   text    NOT NULL,
            max_seats  integer CHECK (max_seats >= 0),
            PRIMARY KEY (tenant_id, license_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE licensing_seats (
            tenant_id     text        NOT NULL,
            license_id    text        NOT NULL,
            activation_id text        NOT NULL,
            activated_at  timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, license_id, activation_id),
            FOREIGN KEY (tenant_id, license_id)
                REFERENCES licensing_seat_limits ON DELETE CASCADE
        )
        """
    )
    # Installation-wide, not tenant data: at most one row, the license of EAF
    # itself, read inside IAM's transactions whatever tenant they serve.
    op.execute(
        """
        CREATE TABLE licensing_platform_license (
            singleton    boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
            license_id   text        NOT NULL,
            product      text        NOT NULL,
            customer     text        NOT NULL,
            license_text text        NOT NULL,
            limits       jsonb       NOT NULL,
            not_before   timestamptz NOT NULL,
            expires_at   timestamptz,
            grace_days   integer     NOT NULL,
            installed_at timestamptz NOT NULL DEFAULT now(),
            installed_by text
        )
        """
    )


def _create_read_models() -> None:
    op.execute(
        """
        CREATE TABLE licensing_products (
            tenant_id    text        NOT NULL,
            name         text        NOT NULL,
            display_name text        NOT NULL,
            status       text        NOT NULL,
            created_at   timestamptz NOT NULL,
            position     bigint      NOT NULL,
            PRIMARY KEY (tenant_id, name)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE licensing_policies (
            tenant_id  text        NOT NULL,
            policy_id  text        NOT NULL,
            product    text        NOT NULL,
            terms      jsonb       NOT NULL,
            status     text        NOT NULL,
            created_at timestamptz NOT NULL,
            position   bigint      NOT NULL,
            PRIMARY KEY (tenant_id, policy_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE licensing_licenses (
            tenant_id  text        NOT NULL,
            license_id text        NOT NULL,
            customer   text        NOT NULL,
            product    text        NOT NULL,
            policy_id  text        NOT NULL,
            state      text        NOT NULL,
            issued_at  timestamptz NOT NULL,
            expires_at timestamptz,
            grace_days integer     NOT NULL,
            max_seats  integer,
            seats_used integer     NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL,
            position   bigint      NOT NULL,
            PRIMARY KEY (tenant_id, license_id)
        )
        """
    )
    op.execute(
        "CREATE INDEX licensing_licenses_customer_idx "
        "ON licensing_licenses (tenant_id, customer)"
    )


def upgrade() -> None:
    _create_write_side()
    _create_read_models()
    grant_rw(*TENANT_TABLES, "licensing_platform_license")
    for table in TENANT_TABLES:
        tenant_policy(table)
    # The users limit of the platform license counts every tenant's users;
    # like the global event feed, that crossing is one audited function.
    op.execute(
        """
        CREATE FUNCTION licensing_count_users() RETURNS bigint
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT count(*) FROM iam_usernames
        $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION licensing_count_users() FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION licensing_count_users() TO {runtime_role()}")


def downgrade() -> None:
    op.execute("DROP FUNCTION licensing_count_users()")
    for table in (
        "licensing_licenses",
        "licensing_policies",
        "licensing_products",
        "licensing_platform_license",
        "licensing_seats",
        "licensing_seat_limits",
        "licensing_signing_keys",
    ):
        op.execute(f"DROP TABLE {table}")
