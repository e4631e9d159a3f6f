"""Schema migrations (Alembic) and the runtime role they grant to.

The owner DSN runs migrations; services use a separate non-owner role, which
``ensure_runtime_role`` creates or updates before the revisions grant to it.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import psycopg
import sqlalchemy.exc
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


@contextlib.contextmanager
def _database_errors(action: str) -> Iterator[None]:
    """Driver errors of Alembic's connection as our own, without the DSN."""
    try:
        yield
    except sqlalchemy.exc.DBAPIError as exc:
        reason = " ".join(str(exc.orig or exc).split())
        raise InfrastructureError(f"cannot {action}: {reason}") from exc


def upgrade(
    owner_dsn: str, runtime_role: str, password: str | None, revision: str = "head"
) -> None:
    ensure_runtime_role(owner_dsn, runtime_role, password)
    with _database_errors("upgrade the schema"):
        command.upgrade(alembic_config(owner_dsn, runtime_role), revision)


def downgrade(owner_dsn: str, runtime_role: str, revision: str) -> None:
    if not revision:
        raise ConfigurationError("name the revision to downgrade to, e.g. 0001 or base")
    with _database_errors("downgrade the schema"):
        command.downgrade(alembic_config(owner_dsn, runtime_role), revision)


def upgrade_sql(
    owner_dsn: str,
    runtime_role: str,
    revision: str = "head",
    start: str | None = None,
) -> str:
    """The SQL that ``upgrade`` would run, for a DBA to review.

    ``start`` is the revision the database is at; without it the database is
    asked. The runtime role itself is created by ``upgrade``, not by this SQL.
    """
    start = start or current_revision(owner_dsn) or "base"
    return _offline_sql(owner_dsn, runtime_role, "upgrade", f"{start}:{revision}")


def downgrade_sql(
    owner_dsn: str, runtime_role: str, revision: str, start: str | None = None
) -> str:
    """The SQL that ``downgrade`` to ``revision`` would run, for review."""
    if not revision:
        raise ConfigurationError("name the revision to downgrade to, e.g. 0001 or base")
    start = start or current_revision(owner_dsn)
    if start is None:
        raise ConfigurationError("the database has no schema to downgrade")
    return _offline_sql(owner_dsn, runtime_role, "downgrade", f"{start}:{revision}")


def _offline_sql(owner_dsn: str, runtime_role: str, action: str, span: str) -> str:
    # A fresh config per call: Alembic keeps writing to the first output buffer.
    config = alembic_config(owner_dsn, runtime_role)
    buffer = io.StringIO()
    config.output_buffer = buffer
    if action == "upgrade":
        command.upgrade(config, span, sql=True)
    else:
        command.downgrade(config, span, sql=True)
    return buffer.getvalue()


def current_revision(owner_dsn: str) -> str | None:
    engine = create_engine(sqlalchemy_url(owner_dsn), poolclass=pool.NullPool)
    try:
        with _database_errors("read the schema revision"), engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None
    return head


def revision_chain() -> list[tuple[str | None, str]]:
    """Every revision with the one before it, oldest first."""
    chain: list[tuple[str | None, str]] = []
    for script in reversed(list(_scripts().walk_revisions())):
        down = script.down_revision
        if down is not None and not isinstance(down, str):
            raise ConfigurationError(f"revision {script.revision} merges branches")
        chain.append((down, script.revision))
    return chain


def revision_module(revision: str) -> ModuleType:
    """The Python module of one revision."""
    script = _scripts().get_revision(revision)
    assert script is not None
    return script.module


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("postgresql://", "eaf_app"))
