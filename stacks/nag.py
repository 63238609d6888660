"""cdk-nag (v3) wiring: the AwsSolutions pack as a CDK validation plugin, and acknowledgements.

Every acknowledgement carries the reason it is safe; tests/infra checks that each one does.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def check(app: App) -> None:
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)
    )


PACK = "AwsSolutions"


def suppress(
    construct: IConstruct, rule: str, reason: str, *, findings: list[str] | None = None
) -> None:
    """Acknowledge a rule (`AwsSolutions-S1`) on one construct and its children, saying why it
    is safe. Rules that report each finding apart (`AwsSolutions-IAM5[Resource::*]`) are
    acknowledged finding by finding, so a new wildcard is never waved through.

    The id is qualified with the pack (`AwsSolutions::AwsSolutions-S1`) so the validation
    report lists the finding as acknowledged, with its reason, instead of dropping it.
    """
    if len(reason) < 20:
        raise ValueError(f"the reason for acknowledging {rule} must say why it is safe")
    for name in [f"{rule}[{f}]" for f in findings] if findings else [rule]:
        Validations.of(construct).acknowledge(Acknowledgment(id=f"{PACK}::{name}", reason=reason))
