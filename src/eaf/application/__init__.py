"""The application layer: aggregates, repositories and command handling."""

from eaf.application.aggregate import Aggregate, DomainEvent
from eaf.application.commands import run_command
from eaf.application.repository import Repository

__all__ = ["Aggregate", "DomainEvent", "Repository", "run_command"]
