"""The SDK's evaluation methods, for the sync and async clients: datasets, runs (submitted
from a suite file whose dataset is uploaded on the way, followed, compared), named judges and
their scored completions, and online score trends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from assay.client.errors import raise_for
from assay.client.sse import Event, aparse, parse

RUNS = "/v1/evals/runs"


def suite_and_dataset(suite: dict[str, Any] | Path) -> tuple[dict[str, Any], bytes | None]:
    """The suite as JSON and, when it names a local JSONL file, that file's bytes (uploaded
    as the dataset named after the suite)."""
    if isinstance(suite, dict):
        return suite, None
    loaded = yaml.safe_load(suite.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"{suite} is not a suite (a YAML mapping)")
    data = suite.parent / str(loaded.get("dataset", ""))
    if loaded.get("dataset") and data.is_file():
        return {**loaded, "dataset": str(loaded.get("name"))}, data.read_bytes()
    return loaded, None


def judged_body(judge: str, messages: list[dict[str, Any]], expected: Any,
                params: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """A judged completion's request: `assay_eval` carries the reference answer."""
    reference = {"assay_eval": {"expected": expected}} if expected is not None else {}
    return {"model": judge, "messages": messages, **params, **reference}


class EvalsMixin:
    _http: httpx.Client

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError

    def upload_dataset(self, name: str, data: bytes | Path, *, fmt: str = "jsonl",
                       description: str | None = None) -> dict[str, Any]:  # fmt: skip
        """A new immutable version of dataset `name` from JSONL or CSV."""
        body = data.read_bytes() if isinstance(data, Path) else data
        params = {"format": fmt, **({"description": description} if description else {})}
        kind = "text/csv" if fmt == "csv" else "application/x-ndjson"
        return dict(
            self._request(
                "POST",
                f"/v1/evals/datasets/{name}/upload",
                content=body,
                params=params,
                headers={"Content-Type": kind},
            ).json()
        )

    def datasets(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "/v1/evals/datasets").json()["items"])

    def dataset(self, name: str) -> dict[str, Any]:
        return dict(self._request("GET", f"/v1/evals/datasets/{name}").json())

    def submit_eval(
        self,
        suite: dict[str, Any] | Path,
        *,
        dataset_version: int | None = None,
        baseline_run_id: str | None = None,
        concurrency: int = 8,
    ) -> dict[str, Any]:
        """Queue a run. A suite file's local dataset is uploaded first (as the dataset named
        after the suite) and that version is run."""
        body, data = suite_and_dataset(suite)
        if data is not None:
            dataset_version = int(self.upload_dataset(str(body["dataset"]), data)["version"])
        payload = {"suite": body, "dataset_version": dataset_version,
                   "baseline_run_id": baseline_run_id, "concurrency": concurrency}  # fmt: skip
        return dict(self._request("POST", RUNS, json=payload).json())

    def eval_run(self, run_id: str) -> dict[str, Any]:
        return dict(self._request("GET", f"{RUNS}/{run_id}").json())

    def eval_runs(
        self, *, status: str | None = None, suite: str | None = None
    ) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("status", status), ("suite", suite)) if v}
        return list(self._request("GET", RUNS, params=params).json()["items"])

    def eval_items(self, run_id: str, *, offset: int = 0, limit: int = 50,
                   failing_first: bool = True) -> dict[str, Any]:  # fmt: skip
        params = {"offset": offset, "limit": limit, "failing_first": failing_first}
        return dict(self._request("GET", f"{RUNS}/{run_id}/items", params=params).json())

    def eval_file(self, run_id: str, name: str = "results.json") -> bytes:
        return self._request("GET", f"{RUNS}/{run_id}/files/{name}").content

    def compare_evals(self, run_id: str, baseline_run_id: str) -> dict[str, Any]:
        return dict(self._request("GET", f"{RUNS}/{run_id}/compare/{baseline_run_id}").json())

    def eval_events(self, run_id: str) -> Iterator[Event]:
        with self._http.stream("GET", f"{RUNS}/{run_id}/events",
                               timeout=httpx.Timeout(None, connect=10)) as response:  # fmt: skip
            if response.status_code >= 400:
                response.read()
                raise_for(response)
            for event in parse(response.iter_lines()):
                if event.type == "end":
                    return
                yield event

    def wait_eval(self, run_id: str) -> dict[str, Any]:
        for _ in self.eval_events(run_id):
            pass
        return self.eval_run(run_id)

    def put_judge(self, name: str, *, model: str, evaluators: list[dict[str, Any]],
                  threshold: float = 1.0) -> dict[str, Any]:  # fmt: skip
        body = {"model": model, "evaluators": evaluators, "threshold": threshold}
        return dict(self._request("PUT", f"/v1/evals/judges/{name}", json=body).json())

    def judged_completion(self, judge: str, messages: list[dict[str, Any]], *,
                          expected: Any = None, **params: Any) -> dict[str, Any]:  # fmt: skip
        """The judge's model's completion with `evaluator_results` and `evaluation`."""
        body = judged_body(judge, messages, expected, params)
        return dict(self._request("POST", f"/v1/judges/{judge}/chat/completions", json=body).json())

    def eval_scores(
        self, *, resource: str | None = None, bucket: str = "hour"
    ) -> list[dict[str, Any]]:
        params = {"bucket": bucket, **({"resource": resource} if resource else {})}
        return list(self._request("GET", "/v1/evals/scores", params=params).json())


class AsyncEvalsMixin:
    _http: httpx.AsyncClient

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError

    async def upload_dataset(self, name: str, data: bytes | Path, *,
                             fmt: str = "jsonl") -> dict[str, Any]:  # fmt: skip
        body = data.read_bytes() if isinstance(data, Path) else data
        kind = "text/csv" if fmt == "csv" else "application/x-ndjson"
        response = await self._request(
            "POST",
            f"/v1/evals/datasets/{name}/upload",
            content=body,
            params={"format": fmt},
            headers={"Content-Type": kind},
        )
        return dict(response.json())

    async def submit_eval(self, suite: dict[str, Any] | Path, *,
                          dataset_version: int | None = None, baseline_run_id: str | None = None,
                          concurrency: int = 8) -> dict[str, Any]:  # fmt: skip
        body, data = suite_and_dataset(suite)
        if data is not None:
            dataset_version = int(
                (await self.upload_dataset(str(body["dataset"]), data))["version"]
            )
        payload = {"suite": body, "dataset_version": dataset_version,
                   "baseline_run_id": baseline_run_id, "concurrency": concurrency}  # fmt: skip
        return dict((await self._request("POST", RUNS, json=payload)).json())

    async def eval_run(self, run_id: str) -> dict[str, Any]:
        return dict((await self._request("GET", f"{RUNS}/{run_id}")).json())

    async def eval_items(self, run_id: str, *, offset: int = 0, limit: int = 50) -> dict[str, Any]:
        params = {"offset": offset, "limit": limit}
        return dict((await self._request("GET", f"{RUNS}/{run_id}/items", params=params)).json())

    async def compare_evals(self, run_id: str, baseline_run_id: str) -> dict[str, Any]:
        response = await self._request("GET", f"{RUNS}/{run_id}/compare/{baseline_run_id}")
        return dict(response.json())

    async def eval_events(self, run_id: str) -> AsyncIterator[Event]:
        async with self._http.stream(
            "GET", f"{RUNS}/{run_id}/events", timeout=httpx.Timeout(None, connect=10)
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise_for(response)
            async for event in aparse(response.aiter_lines()):
                yield event

    async def wait_eval(self, run_id: str) -> dict[str, Any]:
        async for _ in self.eval_events(run_id):
            pass
        return await self.eval_run(run_id)

    async def judged_completion(self, judge: str, messages: list[dict[str, Any]], *,
                                expected: Any = None, **params: Any) -> dict[str, Any]:  # fmt: skip
        body = judged_body(judge, messages, expected, params)
        response = await self._request("POST", f"/v1/judges/{judge}/chat/completions", json=body)
        return dict(response.json())
