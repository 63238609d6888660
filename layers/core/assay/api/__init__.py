"""The HTTPS API: one FastAPI application, served by uvicorn locally and by Lambda in AWS.

`create_app` is imported on first use, so the gateway's lean entry point (`gateway_app`) can
import its modules from this package without loading FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from assay.api.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
