"""Assay: verify code with generated tests, locally or in your own AWS account."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("assay")
except PackageNotFoundError:  # running from a source tree without installation (Lambda layer)
    __version__ = "0.1.0"

__all__ = ["__version__"]
