"""Counters and limits: rate and token limits, reservations, shared counters."""

from assay.limits.port import Algorithm, Decision, Limiter, Reservation

__all__ = ["Algorithm", "Decision", "Limiter", "Reservation"]
