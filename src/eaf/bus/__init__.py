"""The event bus: committed events on NATS JetStream."""

from eaf.bus.errors import BusError
from eaf.bus.nats import NatsBus, decode_event, encode_event, subject_for

__all__ = ["BusError", "NatsBus", "decode_event", "encode_event", "subject_for"]
