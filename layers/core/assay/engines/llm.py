"""The LLM engine: any model LiteLLM supports, or any OpenAI-compatible server.

Token counts come from the response; dollar cost from LiteLLM's bundled cost map (never fetched:
`LITELLM_LOCAL_MODEL_COST_MAP` is set before LiteLLM is imported). A model missing from the map
costs 0 and the report says the cost is unknown.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from assay.config import prepare_litellm
from assay.engines import prompts
from assay.engines.port import (
    Candidate,
    Engine,
    Feedback,
    GenerationContext,
    NothingGenerated,
    Target,
    Usage,
)
from assay.errors import AssayError
from assay.runtimes import Idioms

_IMPORT_LOCK = threading.Lock()


class LlmUnavailable(AssayError):
    status = 502
    code = "llm_unavailable"


def _litellm() -> Any:
    with _IMPORT_LOCK:
        prepare_litellm()
        import litellm

        litellm.telemetry = False
        return litellm


class LlmEngine(Engine):
    name = "llm"
    repairs = True

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        temperature: float = 0.2,
    ) -> None:
        self.model = model
        self._api_base = api_base
        self._api_key = api_key
        self._timeout = timeout_s
        self._temperature = temperature
        self.cost_known = True

    def _complete(self, user: str, idioms: Idioms) -> tuple[str, Usage]:
        litellm = _litellm()
        try:
            response = litellm.completion(
                model=self.model,
                messages=[
                    {"role": "system", "content": prompts.system(idioms)},
                    {"role": "user", "content": user},
                ],
                api_base=self._api_base,
                api_key=self._api_key,
                temperature=self._temperature,
                timeout=self._timeout,
                num_retries=2,
            )
        except Exception as exc:  # LiteLLM raises many provider-specific types
            raise LlmUnavailable(
                f"the model {self.model} could not be reached: {type(exc).__name__}: "
                f"{str(exc)[:300]}",
                fix="check --model, OPENAI_API_BASE and OPENAI_API_KEY",
            ) from None
        text = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        try:
            usd = float(litellm.completion_cost(completion_response=response))
        except Exception:  # a model missing from the local cost map
            usd = 0.0
            self.cost_known = False
        return text, Usage(
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            usd=usd,
        )

    def generate(self, target: Target, context: GenerationContext, index: int) -> Candidate | None:
        source = (Path(context.root) / target.module).read_text(errors="replace")
        idioms = context.runtime.idioms(context.detection)
        text, usage = self._complete(prompts.generate(target, source, idioms), idioms)
        code = prompts.extract_code(text, idioms)
        if code is None:
            raise NothingGenerated(
                "no_tests", f"the model's answer held no {idioms.language} test code",
                detail=text[-1000:],
            )  # fmt: skip
        path = context.runtime.candidate_path(target.module, index, self.name, context.detection)
        return Candidate(
            candidate_id=f"{Path(target.module).stem}-llm-{index}",
            module=target.module,
            path=path,
            code=context.runtime.place(code, path),
            engine=self.name,
            usage=usage,
        )

    def repair(
        self, target: Target, candidate: Candidate, feedback: Feedback, context: GenerationContext
    ) -> Candidate | None:
        idioms = context.runtime.idioms(context.detection)
        text, usage = self._complete(prompts.repair(target, candidate, feedback, idioms), idioms)
        code = prompts.extract_code(text, idioms)
        if code is None:
            return None
        code = context.runtime.place(code, candidate.path)
        return candidate.model_copy(
            update={"code": code, "turn": candidate.turn + 1, "usage": candidate.usage + usage}
        )
