#!/bin/sh
# The Lambda Web Adapter runs this as the function's handler and waits for /healthz on
# AWS_LWA_PORT (default 8080); it streams responses when AWS_LWA_INVOKE_MODE is
# response_stream. The lifespan is on: when Lambda shuts the environment down (SIGTERM, sent
# because the adapter is an extension), pending usage entries are stored before exit.
# Locally: AWS_LWA_PORT=8080 ASSAY_HOME=... functions/gateway/run.sh
set -eu
cd "$(dirname "$0")"
exec python -m uvicorn app:app --host 127.0.0.1 --port "${AWS_LWA_PORT:-8080}" \
  --no-access-log --lifespan on --timeout-graceful-shutdown 1
