"""Errors in OpenAI's shape (`{"error": {"message", "type", "param", "code"}}`), so the official
SDKs raise their usual exceptions (RateLimitError, NotFoundError, ...)."""

from __future__ import annotations

import math
from typing import Any

from assay.errors import AssayError

# Status -> OpenAI error type, as the official API uses them.
TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout",
}


class GatewayError(AssayError):
    status = 502
    code = "upstream_error"

    def __init__(
        self, message: str, *, status: int = 502, code: str = "upstream_error",
        retry_after_s: float | None = None, param: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.code, self.param = status, code, param
        self.headers: dict[str, str] = {}
        self.hits: list[str] = []  # guardrails that matched before the error
        if retry_after_s is not None:
            self.headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))


def body(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": TYPES.get(status, "server_error"),
                      "param": param, "code": code}}  # fmt: skip
