"""Whether the user or service account behind a token may still act."""

from __future__ import annotations

from eaf.application.repository import Repository
from eaf.db.pool import Database
from eaf.eventstore.postgres import PostgresEventStore
from eaf.iam.domain.rules import is_uuid
from eaf.iam.domain.user import User

SERVICE_ACCOUNT_SUBJECT = "service-account:"


class PrincipalDirectory:
    """Answers "is this subject still active?" from the write side.

    Users are read from their event streams, not from the ``iam_users`` read
    model, so a deactivation counts from the moment it is committed.
    """

    def __init__(
        self, db: Database, store: PostgresEventStore, snapshot_every: int = 50
    ) -> None:
        self.db = db
        self.users = Repository(store, User, snapshot_every)

    async def is_active(self, slug: str, subject: str) -> bool:
        """Whether ``subject`` (a user id or a service account) may act."""
        if subject.startswith(SERVICE_ACCOUNT_SUBJECT):
            account_id = subject.removeprefix(SERVICE_ACCOUNT_SUBJECT)
            return await self._is_account_active(slug, account_id)
        if not is_uuid(subject):
            return False
        user = await self.users.load(slug, subject)
        return user is not None and user.is_active

    async def _is_account_active(self, slug: str, account_id: str) -> bool:
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "SELECT 1 FROM iam_service_accounts WHERE account_id = %s "
                "AND status = 'active'",
                (account_id,),
            )
            return await cur.fetchone() is not None
