"""Where dependency installs read packages in AWS: a CodeArtifact repository whose upstream is
public PyPI, reached from the install sandbox through the VPC's CodeArtifact endpoint.

The step Lambda asks for a short-lived authorization token (its role may read that one
repository) and hands pip an index URL carrying it. The token can read packages and nothing
else; it lasts at most as long as an install may take, and is fetched again before it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from assay.sandbox.port import SandboxUnavailable

TOKEN_S = 3600
REFRESH_BEFORE_S = 1200  # an install may run 15 minutes: never hand out a token older than this


class CodeArtifactIndex:
    def __init__(
        self,
        client: Any,
        *,
        domain: str,
        owner: str,
        repository: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._domain, self._owner, self._repository = domain, owner, repository
        self._clock = clock
        self._url: str | None = None
        self._expires = 0.0

    def __call__(self) -> str:
        if self._url is None or self._clock() > self._expires - REFRESH_BEFORE_S:
            self._url, self._expires = self._fetch(), self._clock() + TOKEN_S
        return self._url

    def _fetch(self) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        where = {"domain": self._domain, "domainOwner": self._owner}
        try:
            token = self._client.get_authorization_token(**where, durationSeconds=TOKEN_S)
            endpoint = self._client.get_repository_endpoint(
                **where, repository=self._repository, format="pypi"
            )["repositoryEndpoint"]
        except (BotoCoreError, ClientError) as exc:
            raise SandboxUnavailable(f"the package repository is unavailable: {exc}") from None
        parts = urlsplit(endpoint)
        secret = quote(token["authorizationToken"], safe="")
        return f"{parts.scheme}://aws:{secret}@{parts.netloc}{parts.path.rstrip('/')}/simple/"
