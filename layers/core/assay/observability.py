"""The only Logger, Tracer and Metrics, configured once (Powertools for AWS Lambda).

The Tracer (and with it the X-Ray SDK) loads on first use so the CLI does not pay for it.
Outside Lambda the Tracer disables itself; Metrics flush only inside handlers.
"""

from __future__ import annotations

import logging
import sys
from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics, Tracer

SERVICE = "assay"
NAMESPACE = "Assay"

logger = Logger(service=SERVICE, logger_handler=logging.StreamHandler(sys.stderr))


def configure(level: str) -> None:
    logger.setLevel(level)


@cache
def tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


@cache
def metrics() -> Metrics:
    from aws_lambda_powertools import Metrics

    return Metrics(service=SERVICE, namespace=NAMESPACE)
