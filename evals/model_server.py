"""A local fake model server speaking the real OpenAI and Anthropic wire formats.

``POST /v1/chat/completions`` answers like OpenAI Chat Completions, ``POST
/v1/messages`` like the Anthropic Messages API, errors in each provider's error
shape. Replies come from a scripted queue shared by both endpoints; every request
is recorded (path, headers, JSON body) so tests can assert on the prompts.
Binds 127.0.0.1 on a free port; nothing leaves the machine.

    with FakeLLMServer(["answer 1", Error(429, headers={"retry-after": "1"}), "answer 2"]) as srv:
        gen = OpenAIGenerator("gpt-4.1-mini", api_key="k", base_url=srv.openai_url)
        ...
        assert "test_add" in srv.requests[0].body["messages"][-1]["content"]

When the queue is empty the server answers 400 with a message saying so, which
surfaces as a clear ``GeneratorError`` in the test instead of a hang.

Requests with ``"stream": true`` get server-sent events in each provider's stream
format. Hostile behaviours for budget tests: ``Reply(delay=S)`` (hangs S seconds
before answering), ``Reply(repeat=N)`` (a token flood that ignores ``max_tokens``),
``Reply(chunk_delay=S)`` (trickles), ``Reply(raw_bytes=b"\\xff")`` (not UTF-8), and
``Error(429, headers={"retry-after": "100000"})``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from typing import Self

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    429: "requests",
    500: "server_error",
    503: "server_error",
}
_OPENAI_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class Reply:
    """A successful answer. Token counts default to ``ceil(bytes / 4)`` of prompt/answer."""

    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish: str = ""  # "" -> "stop" / "end_turn"; "length" / "max_tokens" for a cut-off
    delay: float = 0.0  # seconds to wait before answering (timeouts, a hanging server)
    usage: bool = True  # False: omit the usage block (some compatible servers do)
    repeat: int = 1  # streamed: send ``text`` this many times, ignoring max_tokens (a flood)
    chunk_delay: float = 0.0  # streamed: seconds between chunks (a trickling server)
    raw_bytes: bytes = b""  # streamed: bytes put verbatim into the first text chunk (bad UTF-8)


@dataclass
class Error:
    """An error answer in the provider's shape; ``body`` replaces the generated body."""

    status: int
    message: str = ""
    headers: dict = field(default_factory=dict)
    body: dict | None = None


@dataclass
class Received:
    """One request the server received."""

    path: str
    headers: dict
    body: dict
    at: float


class FakeLLMServer:
    """Threaded fake model server; a context manager.

    Attributes:
        url: ``http://127.0.0.1:PORT``. openai_url: ``url + "/v1"`` (OpenAI SDK
            ``base_url``). anthropic_url: ``url`` (Anthropic SDK ``base_url``).
        requests: every :class:`Received` request, in order.
    """

    def __init__(self, replies: list | tuple = ()) -> None:
        self._queue: list = list(replies)
        self._lock = threading.Lock()
        self.requests: list[Received] = []
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.llm = self
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.openai_url = self.url + "/v1"
        self.anthropic_url = self.url
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def add(self, *replies: str | Reply | Error | tuple) -> None:
        """Queue replies: text, :class:`Reply`, :class:`Error`, or raw ``(status, headers, body)``."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """Replies not yet served."""
        return len(self._queue)

    def bodies(self, path: str | None = None) -> list[dict]:
        """JSON bodies received (optionally only for ``path``)."""
        return [r.body for r in self.requests if path is None or r.path == path]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next(self, path: str, body: dict, headers: dict) -> object:
        with self._lock:
            self.requests.append(Received(path, headers, body, time.monotonic()))
            if not self._queue:
                return Error(
                    400,
                    f"fake server: no scripted reply left for request "
                    f"#{len(self.requests)} to {path}",
                )
            return self._queue.pop(0)


class _Server(ThreadingHTTPServer):
    llm: FakeLLMServer  # the scripted server whose replies the handler sends
    daemon_threads = True
    block_on_close = False  # keep-alive client connections must not block server_close()


def _estimate(text: str) -> int:
    return math.ceil(len(text.encode("utf-8", "surrogatepass")) / 4)


def _prompt_text(path: str, body: dict) -> str:
    parts = [str(body.get("system", ""))] if path == ANTHROPIC_PATH else []
    for m in body.get("messages", []):
        content = m.get("content", "")
        if isinstance(content, list):
            content = "".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
        parts.append(str(content))
    return "\n".join(parts)


def openai_completion(body: dict, reply: Reply, n: int) -> dict:
    """A Chat Completions response object for ``reply``."""
    tin = (
        reply.input_tokens
        if reply.input_tokens is not None
        else _estimate(_prompt_text(OPENAI_PATH, body))
    )
    tout = reply.output_tokens if reply.output_tokens is not None else _estimate(reply.text)
    out = {
        "id": f"chatcmpl-fake{n:04d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "unknown"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text, "refusal": None},
                "logprobs": None,
                "finish_reason": reply.finish or "stop",
            }
        ],
        "system_fingerprint": "fp_fake",
    }
    if reply.usage:
        out["usage"] = {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout}
    return out


def anthropic_message(body: dict, reply: Reply, n: int) -> dict:
    """A Messages API response object for ``reply``."""
    tin = (
        reply.input_tokens
        if reply.input_tokens is not None
        else _estimate(_prompt_text(ANTHROPIC_PATH, body))
    )
    tout = reply.output_tokens if reply.output_tokens is not None else _estimate(reply.text)
    return {
        "id": f"msg_fake{n:04d}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "unknown"),
        "content": [{"type": "text", "text": reply.text}],
        "stop_reason": reply.finish or "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": tin,
            "output_tokens": tout,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


#: Characters of ``Reply.text`` per streamed chunk.
CHUNK_CHARS = 64


def _pieces(reply: Reply):
    """The streamed text chunks of ``reply`` (``text`` × ``repeat``), lazily."""
    for _ in range(max(reply.repeat, 1)):
        for i in range(0, len(reply.text), CHUNK_CHARS):
            yield reply.text[i:i + CHUNK_CHARS]


def _whole(reply: Reply) -> Reply:
    """``reply`` as one answer for the usage counts of a stream (without its text: a flood is big)."""
    tokens = reply.output_tokens if reply.output_tokens is not None else _estimate(reply.text) * max(reply.repeat, 1)
    return Reply("", reply.input_tokens, tokens, reply.finish)


def _sse(data: dict, event: str = "", raw: bytes = b"") -> bytes:
    """One server-sent event; ``raw`` replaces the placeholder ``"\x00RAW"`` in the JSON."""
    body = json.dumps(data).encode()
    if raw:
        body = body.replace(b"\\u0000RAW", raw)
    return (f"event: {event}\n".encode() if event else b"") + b"data: " + body + b"\n\n"


def openai_stream(body: dict, reply: Reply, n: int):
    """The Chat Completions stream (``stream: true``) for ``reply``: SSE byte chunks."""
    base = {"id": f"chatcmpl-fake{n:04d}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": body.get("model", "unknown")}

    def chunk(delta: dict, finish: str | None = None, raw: bytes = b"") -> bytes:
        return _sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}, raw=raw)

    yield chunk({"role": "assistant", "content": ""})
    if reply.raw_bytes:
        yield chunk({"content": "\x00RAW"}, raw=reply.raw_bytes)
    for piece in _pieces(reply):
        yield chunk({"content": piece})
    yield chunk({}, reply.finish or "stop")
    if reply.usage and (body.get("stream_options") or {}).get("include_usage"):
        done = openai_completion(body, _whole(reply), n)["usage"]
        yield _sse({**base, "choices": [], "usage": done})
    yield b"data: [DONE]\n\n"


def anthropic_stream(body: dict, reply: Reply, n: int):
    """The Messages API stream (``stream: true``) for ``reply``: SSE byte chunks."""
    full = anthropic_message(body, _whole(reply), n)
    start = {**full, "content": [], "stop_reason": None,
             "usage": {**full["usage"], "output_tokens": 1}}
    yield _sse({"type": "message_start", "message": start}, "message_start")
    yield _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
               "content_block_start")

    def delta(text: str, raw: bytes = b"") -> bytes:
        return _sse({"type": "content_block_delta", "index": 0,
                     "delta": {"type": "text_delta", "text": text}}, "content_block_delta", raw)

    if reply.raw_bytes:
        yield delta("\x00RAW", reply.raw_bytes)
    for piece in _pieces(reply):
        yield delta(piece)
    yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    yield _sse({"type": "message_delta", "delta": {"stop_reason": full["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": full["usage"]["output_tokens"]}}, "message_delta")
    yield _sse({"type": "message_stop"}, "message_stop")


def error_body(path: str, err: Error, n: int) -> dict:
    """The provider's error JSON for ``err``."""
    if err.body is not None:
        return err.body
    message = err.message or f"fake error {err.status}"
    if path == ANTHROPIC_PATH:
        return {
            "type": "error",
            "error": {"type": _ANTHROPIC_TYPES.get(err.status, "api_error"), "message": message},
            "request_id": f"req_fake{n:04d}",
        }
    return {
        "error": {
            "message": message,
            "type": _OPENAI_TYPES.get(err.status, "server_error"),
            "param": None,
            "code": _OPENAI_CODES.get(err.status),
        }
    }


class _Handler(BaseHTTPRequestHandler):
    """One HTTP exchange with a :class:`FakeLLMServer` (``self.server.llm``): route, answer, stream."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        if path not in (OPENAI_PATH, ANTHROPIC_PATH):
            self._send(404, {}, {"error": {"message": f"no route {path}"}})
            return
        llm = self.server.llm
        reply = llm._next(path, body, {k.lower(): v for k, v in self.headers.items()})
        self._answer(path, body, Reply(reply) if isinstance(reply, str) else reply, len(llm.requests))

    def _answer(self, path: str, body: dict, reply: Reply | Error | tuple, n: int) -> None:
        """Send ``reply`` to request number ``n``: raw, an API error, a message, or a stream."""
        if isinstance(reply, tuple):
            status, headers, payload = reply
            self._send(status, headers, payload)
        elif isinstance(reply, Error):
            self._send(reply.status, reply.headers, error_body(path, reply, n))
        else:
            if reply.delay:
                time.sleep(reply.delay)
            if body.get("stream"):
                make_stream = anthropic_stream if path == ANTHROPIC_PATH else openai_stream
                self._stream(make_stream(body, reply, n), reply.chunk_delay)
                return
            make = anthropic_message if path == ANTHROPIC_PATH else openai_completion
            self._send(200, {}, make(body, reply, n))

    def _stream(self, chunks, delay: float) -> None:
        """Send server-sent events with chunked transfer encoding until the client leaves."""
        try:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.send_header("x-request-id", f"req_{len(self.server.llm.requests)}")
            self.end_headers()
            for data in chunks:
                if delay:
                    time.sleep(delay)
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading
            self.close_connection = True

    def _send(self, status: int, headers: dict, payload: object) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("x-request-id", f"req_{len(self.server.llm.requests)}")
            for k, v in headers.items():
                self.send_header(k, str(v))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass
