"""Lambda entry point for streamed responses (Server-Sent Events), run by the Lambda Web Adapter.

Mangum buffers a whole response, so `GET /v1/analyses/{id}/events` cannot go through it. In
AWS this function runs `run.sh` under the Lambda Web Adapter layer with
`AWS_LWA_INVOKE_MODE=response_stream`: the adapter starts uvicorn serving this module's `app`
(the same FastAPI app as `assay serve` and `functions/api`) and relays each chunk as it is
written. API Gateway's `requestId` becomes the correlation id of logs and of `X-Request-Id`.
"""

from __future__ import annotations

from assay.api import create_app
from assay.api.correlation import CorrelationIds
from assay.config import load_settings
from assay.wiring import build_ports

app = CorrelationIds(create_app(build_ports(load_settings())))
