"""Sending messages to users (password reset links) through a pluggable sender."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Message:
    """One message for one recipient."""

    tenant_id: str
    to: str
    subject: str
    body: str


class MailSender(Protocol):
    """Delivers messages; production sites plug in their mail relay here."""

    async def send(self, message: Message) -> None: ...


class FileMailSender:
    """Development sender: appends each message as a JSON line to a file.

    The file (``<data_dir>/logs/mail.log``) is created with mode 0600 since it
    holds live reset links; nothing is written to stdout or to the log.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def send(self, message: Message) -> None:
        """Append the message to the mail log."""
        line = json.dumps(
            {
                "sent_at": datetime.now(UTC).isoformat(),
                "tenant": message.tenant_id,
                "to": message.to,
                "subject": message.subject,
                "body": message.body,
            }
        )
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as stream:
            stream.write(line + "\n")
