"""Which tenant ids, stream types and event types an event may carry.

Every committed event is published on a subject built from its tenant id, the
context part of its stream type (``iam`` in ``iam.user``) and its event type.
NATS gives dots and wildcards in subjects a meaning of their own, so each of
these must be one plain token. An event that breaks the rule could be stored but
never published, and the relay, which publishes strictly in order, would stall
on it; the store therefore refuses such an event before writing anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from eaf.errors import InvalidDataError
from eaf.eventstore.errors import EventStoreError

_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
NAME_RULE = "letters, digits, '_' and '-' only, at least one character"


class InvalidNameError(EventStoreError, InvalidDataError):
    """A tenant id, stream type or event type cannot name a bus subject."""

    code = "invalid-name"

    def __init__(self, kind: str, value: str) -> None:
        super().__init__(
            f"{kind} {value!r} cannot be published on the event bus: use {NAME_RULE}",
            kind=kind,
            value=value,
        )
        self.kind = kind
        self.value = value


def is_subject_token(value: str) -> bool:
    """Whether ``value`` may stand as one token of a bus subject."""
    return _TOKEN.fullmatch(value) is not None


def context_of(stream_type: str) -> str:
    """The bounded context a stream type belongs to (``iam.user`` -> ``iam``)."""
    return stream_type.split(".", 1)[0]


def check_names(tenant_id: str, stream_type: str, event_types: Iterable[str]) -> None:
    """Refuse names the relay could not turn into a subject.

    Only the context part of ``stream_type`` goes into the subject, so
    ``iam.user`` and ``iam.user v2`` pass while ``.user`` does not.

    Raises:
        InvalidNameError: naming the first offending value.
    """
    if not is_subject_token(tenant_id):
        raise InvalidNameError("tenant id", tenant_id)
    if not is_subject_token(context_of(stream_type)):
        raise InvalidNameError("stream type", stream_type)
    for event_type in event_types:
        if not is_subject_token(event_type):
            raise InvalidNameError("event type", event_type)
