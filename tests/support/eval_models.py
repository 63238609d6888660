"""Scripted OpenAI-compatible models on 127.0.0.1 for eval tests, one server answering by the
request's `model`: a target that answers capitals (a `broken` one that gets some wrong), and
judges: a fair one, one that answers malformed JSON once then well, one always malformed, one
that never answers in time, and one that prefers whichever answer comes first."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from tests.support.fake_llm import ScriptedLLM

CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Peru": "Lima", "Kenya": "Nairobi",
            "Chile": "Santiago", "Egypt": "Cairo"}  # fmt: skip
# What the `broken` target gets wrong: the regressions a baseline comparison must find.
BROKEN = {"Peru": "Lima, I think", "Kenya": "Mombasa"}


class EvalModels(ScriptedLLM):
    def __init__(self) -> None:
        super().__init__([], prompt_tokens=20, completion_tokens=5)
        self.malformed_once: set[str] = set()
        self.slow_s = 3.0

    def reply_for(self, body: dict[str, Any]) -> str:
        model = str(body.get("model", "")).split("/")[-1]
        last = body["messages"][-1]["content"]
        first_user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        if model in {"capital-bot", "broken-bot"}:
            country = re.search(r"capital of (\w+)", last)
            name = country.group(1) if country else ""
            if model == "broken-bot" and name in BROKEN:
                return BROKEN[name]
            return CAPITALS.get(name, "I do not know")
        if model == "fair-judge":
            return self._fair(first_user)
        if model == "shaky-judge":
            if first_user not in self.malformed_once:
                self.malformed_once.add(first_user)
                return "Sure! The score is 1."
            return self._fair(first_user)
        if model == "garbled-judge":
            return '{"score": "high"}'
        if model == "slow-judge":
            time.sleep(self.slow_s)
            return self._fair(first_user)
        if model == "first-judge":  # position bias: always prefers answer A
            return json.dumps({"winner": "A", "reason": "A reads better"})
        return "unknown model"

    @staticmethod
    def _fair(prompt: str) -> str:
        """Scores 1 when the graded answer is a capital city alone, 0 otherwise; prefers such
        an answer over one that is not."""
        if "Answer A:" in prompt:
            a = prompt.split("Answer A:\n", 1)[1].split("\n\nAnswer B:", 1)[0]
            b = prompt.split("Answer B:\n", 1)[1]
            good_a, good_b = a.strip() in CAPITALS.values(), b.strip() in CAPITALS.values()
            winner = "tie" if good_a == good_b else ("A" if good_a else "B")
            return json.dumps({"winner": winner, "reason": "the bare capital is better"})
        graded = prompt.rsplit("Answer to grade:\n", 1)[-1].strip()
        good = graded in CAPITALS.values()
        return json.dumps(
            {
                "score": 1.0 if good else 0.0,
                "reason": "a capital city" if good else "not just a capital",
            }
        )
