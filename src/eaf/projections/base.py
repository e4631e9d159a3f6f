"""What a projection is: a handler of events that keeps a read model."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from eaf.db.pool import Connection
from eaf.eventstore.model import RecordedEvent


class Projection(ABC):
    """Turns events into rows of read-model tables.

    ``apply`` runs inside the transaction that also advances the projection's
    checkpoint, scoped to the event's tenant. It must use unqualified table names:
    a rebuild points ``search_path`` at shadow tables of the same names.
    """

    name: ClassVar[str]
    contexts: ClassVar[tuple[str, ...]]
    tables: ClassVar[tuple[str, ...]]

    @property
    def checkpoint_name(self) -> str:
        return f"projection:{self.name}"

    def handles(self, event: RecordedEvent) -> bool:
        return event.context_name in self.contexts

    @abstractmethod
    async def apply(self, conn: Connection, event: RecordedEvent) -> None:
        """Change the read model for ``event``; ignore events of no interest."""
