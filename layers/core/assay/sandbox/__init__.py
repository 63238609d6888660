"""Sandboxes: run untrusted code (the target's tests, generated tests) within limits."""

from assay.sandbox.port import Job, Limits, Outcome, Sandbox, SandboxUnavailable

__all__ = ["Job", "Limits", "Outcome", "Sandbox", "SandboxUnavailable"]
