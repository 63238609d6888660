"""Lambda entry point of the LLM gateway, run by the Lambda Web Adapter with response streaming.

`run.sh` starts uvicorn on this module's `app`: the OpenAI-compatible endpoints alone
(`assay.api.gateway_app`), so a cold start loads neither FastAPI nor the analysis pipeline,
and LiteLLM only when a connection's provider needs translation. Streamed completions are
relayed chunk by chunk (`AWS_LWA_INVOKE_MODE=response_stream`). Ports and the gateway are
built once per execution environment; warm invocations reuse upstream connections, the
resolved-resource cache and the Redis pool.
"""

from __future__ import annotations

from assay.api.correlation import CorrelationIds
from assay.api.gateway_app import create_gateway_app
from assay.config import load_settings
from assay.wiring import build_ports

app = CorrelationIds(create_gateway_app(build_ports(load_settings(), lazy=True)))
