"""Counters and limits: rate and token limits, reservations, shared counters."""

from assay.limits.models import Algorithm, Decision, Reservation
from assay.limits.port import Limiter

__all__ = ["Algorithm", "Decision", "Limiter", "Reservation"]
