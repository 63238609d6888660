"""Evaluations: suites as files (a target, a dataset, evaluators and a gate), the evaluators that
score an output, and (to come) runs through the gateway, comparison, judges and online scoring."""
