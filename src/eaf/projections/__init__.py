"""Projections: read models fed from the event bus, rebuilt from the store."""

from eaf.projections.base import Projection
from eaf.projections.runner import ProjectionRunner

__all__ = ["Projection", "ProjectionRunner"]
