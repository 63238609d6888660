"""The gateway's request path: resolve the model, try its targets in order with retries, stream
or return the answer, and account for it. Everything here is the gateway's own time; the
`x-assay-overhead-ms` header reports it (total minus the time waiting on the upstream)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from assay.gateway import translated
from assay.gateway.cache import ResponseCache, cache_key
from assay.gateway.catalog import Catalog, Resolved, Target
from assay.gateway.errors import GatewayError, body
from assay.gateway.guardrails import GuardrailRule, guard_input, guard_output
from assay.gateway.quotas import Admission, Breaker, Budget, Quotas, budgets, estimate_tokens
from assay.gateway.routing import decide, features
from assay.gateway.upstream import Upstream, UpstreamReply, UpstreamUnavailable
from assay.gateway.usage import UsageWriter
from assay.observability import logger
from assay.records import GatewayResource, UsageEntry

if TYPE_CHECKING:
    from assay.evals.online import OnlineScorer
    from assay.records.gateway import OnlineEvaluation

RETRIES = 2  # per target, after the first attempt
BACKOFF_S = 0.1
RETRYABLE = {408, 409, 429, 500, 502, 503, 504}
OVERHEAD = "x-assay-overhead-ms"
CACHE = "x-assay-cache"


class Caller(BaseModel):
    tenant_id: str
    actor: str
    # `eval`: an eval run's or a judge's call (the x-assay-traffic header): queued behind
    # interactive traffic where capacity is pooled, and never sampled for online evaluation.
    traffic: str = "interactive"


class Outcome(BaseModel):
    """What happened, for usage and audit."""

    resource: str
    model: str | None = None  # the target finally used, `connection/model`
    path: list[str] = Field(default_factory=list)  # every target tried or skipped, in order
    attempts: int = 0  # upstream calls made
    status: int = 200
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    first_token_ms: float | None = None
    overhead_ms: float = 0.0
    cached: bool = False
    guardrails: list[str] = Field(default_factory=list)
    output_rules: list[GuardrailRule] = Field(default_factory=list)
    cache_key: str | None = None
    cache_ttl_s: int = 0
    # (the resource's OnlineEvaluation, the request's messages) when this request was sampled
    evaluate: Any = None


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def usage_of(payload: dict[str, Any]) -> tuple[int, int]:
    usage = payload.get("usage") or {}
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


class Limits(BaseModel):
    """Per-caller limits from Settings (resources and connections carry their own)."""

    key_rpm: int | None = None
    key_tpm: int | None = None
    tenant_tpm: int | None = None
    tenant_tpd: int | None = None
    first_chunk_timeout_s: float = 60.0
    keepalive_s: float = 10.0


class Gateway:
    def __init__(
        self, catalog: Catalog, quotas: Quotas, breaker: Breaker, *,
        limits: Limits | None = None, upstream: Upstream | None = None,
        usage: UsageWriter | None = None, cache: ResponseCache | None = None,
        online: Callable[[Gateway], OnlineScorer] | None = None,
    ) -> None:  # fmt: skip
        self.usage = usage
        # Built on the first sampled request: the gateway's cold start never loads evals.
        self._online_factory = online
        self._online: OnlineScorer | None = None
        self.cache = cache
        self.catalog = catalog
        self.quotas = quotas
        self.breaker = breaker
        self.limits = limits or Limits()
        self.upstream = upstream or Upstream()

    @property
    def online(self) -> OnlineScorer | None:
        if self._online is None and self._online_factory is not None:
            self._online = self._online_factory(self)
        return self._online

    def _sample(
        self, caller: Caller, rule: OnlineEvaluation | None, path: str, stream: bool
    ) -> OnlineEvaluation | None:
        """Whether online evaluation scores this request: a random draw at the rule's rate,
        never for eval traffic (a judge's own calls), never for streams."""
        if rule is None or self._online_factory is None or stream or caller.traffic == "eval":
            return None
        if path != "/chat/completions" or random.random() >= rule.sample_rate:  # noqa: S311
            return None
        return rule

    def _caller_budgets(self, caller: Caller, resource: GatewayResource) -> list[Budget]:
        limits = self.limits
        return [
            *budgets(f"tenant:{caller.tenant_id}", rpm=None, tpm=limits.tenant_tpm,
                     tpd=limits.tenant_tpd),
            *budgets(f"key:{caller.actor}", rpm=limits.key_rpm, tpm=limits.key_tpm),
            *budgets(f"resource:{caller.tenant_id}:{resource.name}",
                     rpm=resource.requests_per_minute, tpm=resource.tokens_per_minute),
        ]  # fmt: skip

    async def forward(self, caller: Caller, path: str, payload: dict[str, Any]) -> Response:
        """POST `payload` (an OpenAI request for `path`) to the resource it names."""
        started = time.perf_counter()
        name = payload.get("model")
        if not isinstance(name, str) or not name:
            raise GatewayError("you must provide a model parameter", status=400,
                               code="missing_model", param="model")  # fmt: skip
        outcome = Outcome(resource=name)
        try:
            return await self._forward(caller, path, payload, outcome, started)
        except GatewayError as failed:
            outcome.status = failed.status
            outcome.guardrails += failed.hits
            outcome.latency_ms = (time.perf_counter() - started) * 1000
            self._record(caller, outcome)
            raise

    def _cached(self, content: bytes, outcome: Outcome, started: float, caller: Caller) -> Response:
        outcome.cached, outcome.model = True, "cache"
        with contextlib.suppress(ValueError, AttributeError):
            outcome.prompt_tokens, outcome.completion_tokens = usage_of(json.loads(content))
        outcome.latency_ms = outcome.overhead_ms = (time.perf_counter() - started) * 1000
        self._record(caller, outcome)
        return Response(
            content,
            media_type="application/json",
            headers={
                CACHE: "hit",
                OVERHEAD: _ms(outcome.overhead_ms / 1000),
                "x-assay-attempts": "0",
            },
        )

    def _record(self, caller: Caller, outcome: Outcome) -> None:
        if self.usage is None:
            return
        self.usage.record(UsageEntry(
            tenant_id=caller.tenant_id, api_key_id=caller.actor, resource=outcome.resource,
            model=outcome.model or "none", path=outcome.path[:20],
            prompt_tokens=outcome.prompt_tokens, completion_tokens=outcome.completion_tokens,
            latency_ms=int(outcome.latency_ms), overhead_ms=round(max(outcome.overhead_ms, 0), 3),
            first_token_ms=None if outcome.first_token_ms is None else int(outcome.first_token_ms),
            status="ok" if outcome.status < 400 else f"error:{outcome.status}",
            cached=outcome.cached, guardrails=outcome.guardrails,
        ))  # fmt: skip

    def _plan(
        self, resolved: Resolved, path: str, payload: dict[str, Any], outcome: Outcome, *,
        stream: bool,
    ) -> list[Target]:  # fmt: skip
        """Input guardrails (which may redact the payload or block), then routing rules: the
        targets to try, in order."""
        resource = resolved.resource
        if resource.guardrails:
            outcome.guardrails += guard_input(resource.guardrails, payload)
            if path == "/chat/completions" and not stream:
                outcome.output_rules = resource.guardrails
        if not resource.rules:
            return resolved.targets
        seen = features(payload, estimate_tokens(payload, 0))
        decision = decide(resource.rules, seen, self.breaker.error_rate)
        if decision.rule:
            outcome.path.append(f"rule:{decision.rule}")
        if decision.blocked:
            raise GatewayError(decision.blocked, status=403, code="blocked_by_rule")
        return (resolved.build(decision.targets) if decision.targets else []) or resolved.targets

    async def _forward(
        self, caller: Caller, path: str, payload: dict[str, Any], outcome: Outcome, started: float
    ) -> Response:
        name = outcome.resource
        resolved = self.catalog.resolve(caller.tenant_id, name)
        stream = bool(payload.get("stream")) and path == "/chat/completions"
        targets = self._plan(resolved, path, payload, outcome, stream=stream)
        sampled = self._sample(caller, resolved.resource.evaluation, path, stream)
        if sampled is not None:
            outcome.evaluate = (sampled, payload.get("messages") or [])
        if self.cache is not None and resolved.resource.cache_ttl_s and not stream:
            key = cache_key(caller.tenant_id, name + path, payload)
            get = partial(self.cache.get, key)
            cached = await run_in_threadpool(get) if self.cache.blocking else get()
            if cached is not None:
                return self._cached(cached, outcome, started, caller)
            outcome.cache_key, outcome.cache_ttl_s = key, resolved.resource.cache_ttl_s
        admission = Admission()
        estimate = estimate_tokens(payload, len(json.dumps(payload)))
        admitted = time.perf_counter()
        await self.quotas.admit(
            self._caller_budgets(caller, resolved.resource), estimate, admission
        )
        waited = time.perf_counter() - admitted  # waiting for capacity is not overhead
        try:
            return await self._through_targets(
                targets, path, payload, outcome=outcome, started=started, waited=waited,
                admission=admission, caller=caller, stream=stream,
            )  # fmt: skip
        except BaseException:
            self.quotas.settle(admission, 0)
            raise

    async def _through_targets(
        self, targets: list[Target], path: str, payload: dict[str, Any], *, outcome: Outcome,
        started: float, waited: float, admission: Admission, caller: Caller, stream: bool,
    ) -> Response:  # fmt: skip
        """Each target in order until one answers; targets without capacity are skipped, and
        if none answered, the first of them is waited for (briefly, by rank) and tried."""
        name = outcome.resource
        last_error: GatewayError | None = None
        full: list[Target] = []
        for planned, wait in [*((t, False) for t in targets), (None, True)]:
            if planned is None:
                if not full:
                    break
                target = full[0]
            elif self.breaker.is_open(planned.label):
                outcome.path.append(f"{planned.label} (circuit open)")
                continue
            else:
                target = planned
            found, priority = self.quotas.connection_budgets(target.connection, name,
                                                             traffic=caller.traffic)  # fmt: skip
            held = len(admission.reservations)
            pause = time.perf_counter()
            try:
                await self.quotas.admit(found, admission.estimate, admission, wait=wait,
                                        priority=priority)  # fmt: skip
            except GatewayError as refused:
                outcome.path.append(f"{target.label} (at capacity)")
                full.append(target)
                last_error = refused
                continue
            finally:
                if wait:  # waiting for capacity is not overhead
                    waited += time.perf_counter() - pause
            answer, spent, error = await self._try(target, path, payload, stream, outcome)
            waited += spent
            if answer is not None:
                return await self._answer(
                    answer, outcome, started, waited, stream=stream, admission=admission,
                    caller=caller,
                )  # fmt: skip
            self.quotas.release(admission, since=held)  # this target served nothing
            last_error = error
        self.quotas.settle(admission, 0)
        if last_error is None:
            last_error = GatewayError(f"every upstream of `{name}` is failing; try again later",
                                      status=503, code="circuit_open", retry_after_s=5)  # fmt: skip
        logger.warning("gateway: every target failed", extra={"path": outcome.path})
        raise last_error

    async def _try(
        self, target: Target, path: str, payload: dict[str, Any], stream: bool, outcome: Outcome
    ) -> tuple[UpstreamReply | None, float, GatewayError | None]:
        """One target with retries: (the answer to relay, or None; time spent waiting; error)."""
        send = self.upstream.send if translated.passes_through(target) else translated.send
        credentials = self.catalog.credentials(target.connection)
        waited = 0.0
        error: GatewayError | None = None
        for attempt in range(RETRIES + 1):
            outcome.path.append(target.label)
            outcome.attempts += 1
            self.breaker.attempted(target.label)
            sent = time.perf_counter()
            try:
                response: UpstreamReply = await send(
                    target, path, payload, credentials, stream=stream
                )
            except UpstreamUnavailable as exc:
                waited += time.perf_counter() - sent
                error = GatewayError(f"{target.label}: {exc}", status=504 if exc.timeout else 502)
            else:
                waited += time.perf_counter() - sent
                if response.status_code not in RETRYABLE:
                    outcome.model = target.label
                    return response, waited, None
                await response.close()
                limited = response.status_code == 429
                error = GatewayError(
                    f"{target.label} answered {response.status_code}",
                    status=429 if limited else 502,
                    code="upstream_rate_limited" if limited else "upstream_error",
                )  # fmt: skip
            self.breaker.failed(target.label)
            if attempt < RETRIES:
                pause = random.uniform(0, BACKOFF_S * 2**attempt)  # noqa: S311 - jitter
                await asyncio.sleep(pause)
                waited += pause
        return None, waited, error

    async def _answer(
        self, response: UpstreamReply, outcome: Outcome, started: float, waited: float, *,
        stream: bool, admission: Admission, caller: Caller,
    ) -> Response:  # fmt: skip
        outcome.status = response.status_code
        headers = {"x-assay-model": outcome.model or "", "x-assay-attempts": str(outcome.attempts)}
        if not stream:
            try:
                content = await response.read()
            except UpstreamUnavailable as exc:
                raise GatewayError(f"{outcome.model}: the answer broke off ({exc})") from exc
            if response.status_code < 400:
                with contextlib.suppress(ValueError, AttributeError):
                    answer = json.loads(content)
                    outcome.prompt_tokens, outcome.completion_tokens = usage_of(answer)
                    if outcome.output_rules:
                        found = guard_output(outcome.output_rules, answer)  # or raises
                        if found:
                            outcome.guardrails += found
                            content = json.dumps(answer).encode()
                    if outcome.evaluate is not None and self.online is not None:
                        rule, messages = outcome.evaluate
                        elapsed_ms = (time.perf_counter() - started) * 1000
                        sample = (caller.tenant_id, caller.actor, outcome.resource, rule,
                                  messages, answer, elapsed_ms)  # fmt: skip
                        self.online.offer(sample)
            self.quotas.settle(admission, outcome.prompt_tokens + outcome.completion_tokens)
            outcome.latency_ms = (time.perf_counter() - started) * 1000
            outcome.overhead_ms = outcome.latency_ms - waited * 1000
            headers[OVERHEAD] = _ms(outcome.overhead_ms / 1000)
            if outcome.cache_key and response.status_code == 200 and self.cache is not None:
                headers[CACHE] = "miss"
                ttl = outcome.cache_ttl_s
                put = partial(self.cache.put, outcome.cache_key, content, ttl)
                await run_in_threadpool(put) if self.cache.blocking else put()
            self._record(caller, outcome)
            kind = response.headers.get("content-type", "application/json")
            return Response(content, status_code=response.status_code, media_type=kind,
                            headers=headers)  # fmt: skip
        outcome.overhead_ms = (time.perf_counter() - started - waited) * 1000
        headers[OVERHEAD] = _ms(outcome.overhead_ms / 1000)
        headers["Cache-Control"] = "no-cache"
        headers["X-Accel-Buffering"] = "no"
        chunks = self._relay(response, outcome, started, admission, caller)
        return StreamingResponse(chunks, media_type="text/event-stream", headers=headers)

    async def _relay(
        self, response: UpstreamReply, outcome: Outcome, started: float, admission: Admission,
        caller: Caller,
    ) -> AsyncIterator[bytes]:  # fmt: skip
        """Chunks as they arrive, never buffered; SSE comments keep the connection alive while
        the first one is awaited, for at most `first_chunk_timeout_s`. The usage chunk
        (stream_options.include_usage) is read on the way through. An upstream failing
        mid-stream, or too slow to start, ends the stream with an error frame."""
        tail = b""
        chunks = response.chunks()
        try:
            first = asyncio.ensure_future(anext(chunks))
            deadline = time.monotonic() + self.limits.first_chunk_timeout_s
            while not first.done():
                left = deadline - time.monotonic()
                done, _ = await asyncio.wait({first}, timeout=min(self.limits.keepalive_s, left))
                if done:
                    break
                if time.monotonic() >= deadline:
                    first.cancel()
                    raise UpstreamUnavailable("no first chunk in time", timeout=True)
                yield b": keep-alive\n\n"
            try:
                chunk = first.result()
            except StopAsyncIteration:
                return
            outcome.first_token_ms = (time.perf_counter() - started) * 1000
            while True:
                tail = (tail + chunk)[-16384:]
                yield chunk
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
        except UpstreamUnavailable as exc:
            message = f"the upstream failed mid-stream: {exc}"
            yield f"data: {json.dumps(body(502, message, 'stream_error'))}\n\n".encode()
            outcome.status = 502
        finally:
            await response.close()
            outcome.latency_ms = (time.perf_counter() - started) * 1000
            outcome.prompt_tokens, outcome.completion_tokens = _stream_usage(tail)
            used = outcome.prompt_tokens + outcome.completion_tokens
            self.quotas.settle(admission, used or admission.estimate)
            self._record(caller, outcome)


def _stream_usage(tail: bytes) -> tuple[int, int]:
    for line in reversed(tail.split(b"\n")):
        if line.startswith(b"data: {") and b'"usage"' in line:
            try:
                return usage_of(json.loads(line[6:]))
            except (ValueError, AttributeError, TypeError):
                return 0, 0
    return 0, 0
