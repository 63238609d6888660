"""A scripted OpenAI-compatible server on 127.0.0.1 for tests: no model, canned answers.

Each rule maps a substring of the last user message to a reply; the server records every
request so tests can check what was asked (for example, that a repair turn happened).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ScriptedLLM:
    def __init__(self, rules: list[tuple[str, str]], *, prompt_tokens: int = 900,
                 completion_tokens: int = 300) -> None:  # fmt: skip
        self.rules = rules
        self.requests: list[dict[str, Any]] = []
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.delay_s = 0.0  # how long each answer takes (a slow model)
        self._lock = threading.Lock()

    def reply_for(self, body: dict[str, Any]) -> str:
        last = body["messages"][-1]["content"]
        for needle, reply in self.rules:
            if needle in last:
                return reply
        return "I cannot help with that."

    @contextmanager
    def serve(self) -> Iterator[str]:
        script = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                with script._lock:
                    script.requests.append(body)
                time.sleep(script.delay_s)
                if not self.path.endswith("/chat/completions"):
                    self.send_response(404)
                    self.end_headers()
                    return
                answer = {
                    "id": f"chatcmpl-{len(script.requests)}",
                    "object": "chat.completion",
                    "created": 1_700_000_000,
                    "model": body.get("model", "scripted"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant",
                                             "content": script.reply_for(body)}}],
                    "usage": {"prompt_tokens": script.prompt_tokens,
                              "completion_tokens": script.completion_tokens,
                              "total_tokens": script.prompt_tokens + script.completion_tokens},
                }  # fmt: skip
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/v1"
        finally:
            server.shutdown()
            server.server_close()
