"""The workflow: one Amazon States Language definition, run by Step Functions in AWS and by the
in-process runner here."""

from assay.workflow.asl import ExecutionFailed, StateMachine, StepError, Stopped
from assay.workflow.paths import PathError

__all__ = ["ExecutionFailed", "PathError", "StateMachine", "StepError", "Stopped"]
