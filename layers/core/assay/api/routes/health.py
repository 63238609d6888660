"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from assay.api.auth import ports
from assay.api.models import Health
from assay.errors import AssayError
from assay.wiring import Ports

router = APIRouter(tags=["health"])


@router.get("/healthz", name="health", response_model=Health)
def health() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", name="readiness", response_model=Health,
            responses={503: {"model": Health}})  # fmt: skip
def readiness(store: Ports = Depends(ports)) -> Health | JSONResponse:  # noqa: B008
    """Every store this server depends on answers."""
    checks = {}
    for name, probe in (("records", store.records.ping), ("artifacts", store.blobs.ping),
                        ("limits", store.limits.ping)):  # fmt: skip
        try:
            probe()
            checks[name] = "ok"
        except AssayError as exc:
            checks[name] = exc.message
    if all(v == "ok" for v in checks.values()):
        return Health(status="ok", checks=checks)
    return JSONResponse(Health(status="unavailable", checks=checks).model_dump(), status_code=503)
