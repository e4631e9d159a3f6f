"""Schema migrations (Alembic) and the runtime role they grant to.

The owner DSN runs migrations; services use a separate non-owner role, which
``ensure_runtime_role`` creates or updates before the revisions grant to it.
"""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sqlalchemy import create_engine, pool

from eaf.errors import ConfigurationError, InfrastructureError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def sqlalchemy_url(dsn: str) -> str:
    """The SQLAlchemy form of a libpq DSN, with the psycopg 3 driver."""
    if dsn.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + dsn.split("://", 1)[1]
    params = conninfo_to_dict(dsn)
    user = params.pop("user", "")
    password = params.pop("password", "")
    host = params.pop("host", "localhost")
    port = params.pop("port", "5432")
    dbname = params.pop("dbname", "postgres")
    query = "&".join(f"{key}={value}" for key, value in params.items())
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgresql+psycopg://{auth}{host}:{port}/{dbname}" + (
        f"?{query}" if query else ""
    )


def runtime_dsn(owner_dsn: str, role: str, password: str | None) -> str:
    """The runtime role's DSN: the owner's server and database, another user."""
    params = conninfo_to_dict(owner_dsn)
    params["user"] = role
    params.pop("password", None)
    if password:
        params["password"] = password
    return make_conninfo("", **params)


def alembic_config(owner_dsn: str, runtime_role: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(owner_dsn))
    config.attributes["runtime_role"] = runtime_role
    return config


def ensure_runtime_role(owner_dsn: str, role: str, password: str | None) -> None:
    """Create or update the login role the services use; never a superuser."""
    try:
        with psycopg.connect(owner_dsn, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
            ).fetchone()
            verb = "ALTER" if exists else "CREATE"
            options = sql.SQL("LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB")
            statement = sql.SQL("{} ROLE {} {}").format(
                sql.SQL(verb), sql.Identifier(role), options
            )
            if password:
                statement = sql.SQL("{} PASSWORD {}").format(
                    statement, sql.Literal(password)
                )
            conn.execute(statement)
            dbname = conn.info.dbname
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(dbname), sql.Identifier(role)
                )
            )
            conn.execute(
                sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(
                    sql.Identifier(role)
                )
            )
    except psycopg.Error as exc:
        raise InfrastructureError(
            f"cannot prepare runtime role {role!r}: {exc}; "
            "EAF_DATABASE_URL must name a role that may create roles"
        ) from exc


def upgrade(
    owner_dsn: str, runtime_role: str, password: str | None, revision: str = "head"
) -> None:
    ensure_runtime_role(owner_dsn, runtime_role, password)
    command.upgrade(alembic_config(owner_dsn, runtime_role), revision)


def downgrade(owner_dsn: str, runtime_role: str, revision: str) -> None:
    if not revision:
        raise ConfigurationError("name the revision to downgrade to, e.g. 0001 or base")
    command.downgrade(alembic_config(owner_dsn, runtime_role), revision)


def upgrade_sql(owner_dsn: str, runtime_role: str, revision: str = "head") -> str:
    """The SQL that ``upgrade`` would run, for a DBA to review."""
    config = alembic_config(owner_dsn, runtime_role)
    buffer = io.StringIO()
    config.output_buffer = buffer
    start = current_revision(owner_dsn)
    target = f"{start}:{revision}" if start else revision
    command.upgrade(config, target, sql=True)
    return buffer.getvalue()


def current_revision(owner_dsn: str) -> str | None:
    engine = create_engine(sqlalchemy_url(owner_dsn), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("postgresql://", "eaf_app"))
    head = script.get_current_head()
    assert head is not None
    return head
