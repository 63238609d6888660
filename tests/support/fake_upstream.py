"""A scripted OpenAI-compatible upstream on 127.0.0.1 for gateway tests: chat (plain, streamed,
tool calls), embeddings, and failures on demand. It records every request and the credentials
it was sent, so tests can check what reached the provider."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeUpstream:
    def __init__(self, name: str = "up") -> None:
        self.name = name
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str] = []
        self.fail_next: list[int] = []  # statuses to answer, one per coming request
        self.chunk_delay_s = 0.0
        self.first_chunk_delay_s = 0.0  # after the headers, before the first chunk
        self.break_stream_after: int | None = None  # chunks before the connection drops
        self._lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with upstream._lock:
                    upstream.requests.append(body)
                    upstream.authorizations.append(self.headers.get("Authorization", ""))
                    status = upstream.fail_next.pop(0) if upstream.fail_next else 200
                if status != 200:
                    self._json(
                        status,
                        {
                            "error": {
                                "message": f"{upstream.name} says {status}",
                                "type": "upstream",
                                "code": None,
                                "param": None,
                            }
                        },
                    )
                elif self.path.endswith("/embeddings"):
                    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                    self._json(
                        200,
                        {
                            "object": "list",
                            "model": body["model"],
                            "data": [
                                {
                                    "object": "embedding",
                                    "index": i,
                                    "embedding": [float(len(str(x))), 0.5],
                                }
                                for i, x in enumerate(inputs)
                            ],
                            "usage": {
                                "prompt_tokens": 3 * len(inputs),
                                "total_tokens": 3 * len(inputs),
                            },
                        },
                    )
                elif body.get("stream"):
                    self._stream(body)
                else:
                    self._json(200, upstream.completion(body))

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                words = upstream.reply(body).split(" ")
                time.sleep(upstream.first_chunk_delay_s)
                for index, word in enumerate(words):
                    if (
                        upstream.break_stream_after is not None
                        and index >= upstream.break_stream_after
                    ):
                        self.wfile.flush()
                        self.connection.shutdown(2)
                        return
                    delta = {"content": word if index == 0 else " " + word}
                    self._chunk(
                        {
                            "id": "c1",
                            "object": "chat.completion.chunk",
                            "model": body["model"],
                            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                        }
                    )
                    time.sleep(upstream.chunk_delay_s)
                self._chunk(
                    {
                        "id": "c1",
                        "object": "chat.completion.chunk",
                        "model": body["model"],
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    }
                )
                if (body.get("stream_options") or {}).get("include_usage"):
                    self._chunk(
                        {
                            "id": "c1",
                            "object": "chat.completion.chunk",
                            "model": body["model"],
                            "choices": [],
                            "usage": {
                                "prompt_tokens": 11,
                                "completion_tokens": len(words),
                                "total_tokens": 11 + len(words),
                            },
                        }
                    )
                self._raw(b"data: [DONE]\n\n")
                self._raw(b"")

            def _chunk(self, payload: dict[str, Any]) -> None:
                self._raw(f"data: {json.dumps(payload)}\n\n".encode())

            def _raw(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reply(self, body: dict[str, Any]) -> str:
        last = body["messages"][-1].get("content") or ""
        return f"{self.name} heard: {last}"

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.reply(body)}
        finish = "stop"
        if body.get("tools"):
            tool = body["tools"][0]["function"]["name"]
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": tool, "arguments": json.dumps({"city": "Paris"})},
                    }
                ],
            }
            finish = "tool_calls"
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        }
