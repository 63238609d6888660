#!/bin/sh
# The Lambda Web Adapter runs this as the function's handler and waits for /healthz on
# AWS_LWA_PORT (default 8080); the adapter streams responses when AWS_LWA_INVOKE_MODE is
# response_stream. Locally: AWS_LWA_PORT=8080 ASSAY_HOME=... functions/api_stream/run.sh
set -eu
cd "$(dirname "$0")"
exec python -m uvicorn app:app --host 127.0.0.1 --port "${AWS_LWA_PORT:-8080}" \
  --no-access-log --lifespan off --timeout-graceful-shutdown 2
