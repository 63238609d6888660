"""The HTTPS API: one FastAPI application, served by uvicorn locally and by Lambda in AWS."""

from assay.api.app import create_app

__all__ = ["create_app"]
