"""A scripted Anthropic Messages API on 127.0.0.1 (`POST /v1/messages`, plain and streamed, text
and tool use, errors on demand), for the gateway's translated path through LiteLLM. It keeps
every request body and the `x-api-key` it was sent."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WORDS = ["Bonjour", " from", " the", " scripted", " Claude."]


class FakeAnthropic:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.api_keys: list[str] = []
        self.paths: list[str] = []
        self.fail_next: list[int] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with fake._lock:
                    fake.requests.append(body)
                    fake.api_keys.append(self.headers.get("x-api-key", ""))
                    fake.paths.append(self.path)
                    status = fake.fail_next.pop(0) if fake.fail_next else 200
                if status != 200:
                    kind = "rate_limit_error" if status == 429 else "api_error"
                    self._json(
                        status,
                        {"type": "error", "error": {"type": kind, "message": f"scripted {status}"}},
                    )
                elif body.get("stream"):
                    self._stream(body)
                else:
                    self._json(200, fake.message(body))

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _event(self, kind: str, payload: dict[str, Any]) -> None:
                data = f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n"
                encoded = data.encode()
                self.wfile.write(f"{len(encoded):x}\r\n".encode() + encoded + b"\r\n")
                self.wfile.flush()

            def _stream(self, body: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                start = {
                    "id": "msg_stream",
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 11, "output_tokens": 1},
                }
                self._event("message_start", {"message": start})
                self._event(
                    "content_block_start",
                    {"index": 0, "content_block": {"type": "text", "text": ""}},
                )
                for word in WORDS:
                    self._event(
                        "content_block_delta",
                        {"index": 0, "delta": {"type": "text_delta", "text": word}},
                    )
                self._event("content_block_stop", {"index": 0})
                self._event(
                    "message_delta",
                    {
                        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": len(WORDS)},
                    },
                )
                self._event("message_stop", {})
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @staticmethod
    def message(body: dict[str, Any]) -> dict[str, Any]:
        if body.get("tools"):
            tool = body["tools"][0]["name"]
            content: list[dict[str, Any]] = [
                {"type": "tool_use", "id": "toolu_01", "name": tool, "input": {"city": "Paris"}}
            ]
            stop = "tool_use"
        else:
            content, stop = [{"type": "text", "text": "".join(WORDS)}], "end_turn"
        return {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 11, "output_tokens": 7},
        }

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
