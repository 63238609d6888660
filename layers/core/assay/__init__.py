"""Assay: verify code with generated tests, locally or in your own AWS account."""

from __future__ import annotations

from typing import Any

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    """`__version__` on first use: importlib.metadata costs ~40 ms of every cold start."""
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("assay")
        except PackageNotFoundError:  # a source tree without installation (a Lambda layer)
            return "0.1.0"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
