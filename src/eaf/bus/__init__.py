"""The event bus: committed events on NATS JetStream."""

from eaf.bus.errors import BusError, StreamMissingError
from eaf.bus.nats import NatsBus, decode_event, encode_event, subject_for

__all__ = [
    "BusError",
    "NatsBus",
    "StreamMissingError",
    "decode_event",
    "encode_event",
    "subject_for",
]
