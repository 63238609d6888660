"""The synchronous client."""

from __future__ import annotations

import builtins
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from assay.analysis import outputs
from assay.analysis.outputs import OutputFile
from assay.api.models import AnalysisIn, AnalysisOut, PageOut, SigningKeyOut
from assay.client import retry
from assay.client.errors import raise_for
from assay.client.evals import EvalsMixin
from assay.client.sse import Event, parse
from assay.evidence import Verdict

__all__ = ["AssayClient", "Event"]

FINISHED = {"succeeded", "failed", "cancelled"}


class AssayClient(EvalsMixin):
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 30.0,
        retries: int = 4,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Any = time.sleep,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "assay-sdk"},
            timeout=timeout_s,
            transport=transport,
        )
        self._retries = retries
        self._backoff = backoff_s
        self._sleep = sleep

    def __enter__(self) -> AssayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response | None = None
        for attempt in range(self._retries + 1):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError:
                response = None
                if attempt == self._retries:
                    raise
            if not retry.should_retry(response) or attempt == self._retries:
                break
            self._sleep(retry.delay(response, attempt, self._backoff))
        assert response is not None
        raise_for(response)
        return response

    # ------------------------------------------------------------------ analyses
    def submit(
        self, source: str, *, idempotency_key: str | None = None, **options: Any
    ) -> AnalysisOut:
        body = AnalysisIn(source=source, **options)
        # A key per call makes retries safe: the server returns the first analysis.
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        response = self._request("POST", "/v1/analyses", json=body.model_dump(), headers=headers)
        return AnalysisOut.model_validate(response.json())

    def submit_archive(self, archive: Path, **params: Any) -> AnalysisOut:
        kind = "application/zip" if archive.suffix == ".zip" else "application/gzip"
        response = self._request(
            "POST", "/v1/analyses/archive", content=archive.read_bytes(),
            headers={"Content-Type": kind}, params=params,
        )  # fmt: skip
        return AnalysisOut.model_validate(response.json())

    def get(self, analysis_id: str) -> AnalysisOut:
        return AnalysisOut.model_validate(
            self._request("GET", f"/v1/analyses/{analysis_id}").json()
        )

    def list(self, *, status: str | None = None, page_size: int = 50) -> Iterator[AnalysisOut]:
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if status:
                params["status"] = status
            if cursor:
                params["cursor"] = cursor
            page = PageOut[AnalysisOut].model_validate(
                self._request("GET", "/v1/analyses", params=params).json()
            )
            yield from page.items
            if (cursor := page.next_cursor) is None:
                return

    def cancel(self, analysis_id: str) -> AnalysisOut:
        response = self._request("POST", f"/v1/analyses/{analysis_id}/cancel")
        return AnalysisOut.model_validate(response.json())

    def report(self, analysis_id: str) -> dict[str, Any]:
        report: dict[str, Any] = self._request("GET", f"/v1/analyses/{analysis_id}/report").json()
        return report

    def artifacts(self, analysis_id: str) -> builtins.list[OutputFile]:
        response = self._request("GET", f"/v1/analyses/{analysis_id}/artifacts")
        return [OutputFile.model_validate(item) for item in response.json()]

    def artifact(self, analysis_id: str, path: str) -> bytes:
        return self._request("GET", f"/v1/analyses/{analysis_id}/artifacts/{path}").content

    def download(self, analysis_id: str, dest: Path) -> Path:
        """Unpack the whole output into `dest`, ready for `assay verify`."""
        outputs.unpack(self._request("GET", f"/v1/analyses/{analysis_id}/bundle").content, dest)
        return dest

    def verify(self, analysis_id: str) -> Verdict:
        """The server's check of the stored evidence (`download` + `assay verify` is yours)."""
        return Verdict.model_validate(
            self._request("POST", f"/v1/analyses/{analysis_id}/verify").json()
        )

    def signing_key(self) -> SigningKeyOut:
        return SigningKeyOut.model_validate(self._request("GET", "/v1/signing-key").json())

    def events(self, analysis_id: str, *, after: int = 0) -> Iterator[Event]:
        """The analysis's events as they happen; reconnects with Last-Event-ID if cut off."""
        last = after
        for attempt in range(self._retries + 1):
            try:
                with self._http.stream(
                    "GET", f"/v1/analyses/{analysis_id}/events",
                    headers={"Last-Event-ID": str(last)}, timeout=httpx.Timeout(None, connect=10),
                ) as response:  # fmt: skip
                    if response.status_code >= 400:
                        response.read()
                        raise_for(response)
                    for event in parse(response.iter_lines()):
                        if event.type == "end":
                            return
                        if event.id is not None:
                            last = event.id
                        yield event
            except httpx.TransportError:
                if attempt == self._retries:
                    raise
                self._sleep(retry.delay(None, attempt, self._backoff))

    def wait(self, analysis_id: str) -> AnalysisOut:
        """Block until the analysis has finished; return its final state."""
        for _ in self.events(analysis_id):
            pass
        return self.get(analysis_id)
