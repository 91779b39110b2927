"""OpenAI Chat Completions generator (also any OpenAI-compatible server via ``base_url``).

Works with api.openai.com and with servers that speak the same wire format
(Ollama, vLLM, llama.cpp server, LM Studio) through ``base_url`` /
``OPENAI_BASE_URL``. The SDK's own retries are off (``max_retries=0``): retries are
:class:`~harness.generators.llm.LLMGenerator`'s, bounded by the run's time left and
counted. Replies are streamed so that loopwright stops reading at ``max_tokens``
even when a server ignores it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from harness.core.protocols import GeneratorError
from harness.generators.llm import LLMGenerator
from harness.generators.retrying import TransientError

if TYPE_CHECKING:  # the SDK is imported on first use: it is slow to import
    import openai

OFFICIAL_BASE_URL = "https://api.openai.com/v1"
#: Model families that take no ``temperature`` other than the default.
_FIXED_TEMPERATURE = ("o1", "o3", "o4", "gpt-5")


class OpenAIGenerator(LLMGenerator):
    """Chat Completions through the official ``openai`` SDK.

    Args:
        model: model id, e.g. ``gpt-4.1-mini`` (or the local server's model name).
        api_key: the key; None reads ``OPENAI_API_KEY``. A custom ``base_url`` may
            run without one (a placeholder is sent).
        base_url: API root including ``/v1``; None reads ``OPENAI_BASE_URL``, else
            ``https://api.openai.com/v1``.
        timeout: seconds per HTTP request, lowered to the run's time left (a timeout is retried).
        token_field: ``max_completion_tokens`` (default for api.openai.com) or
            ``max_tokens`` (default for other servers, which often know only that one).
        **options: :class:`~harness.generators.llm.LLMGenerator` options
            (``max_tokens``, ``max_context_tokens``, ``max_malformed``, ``temperature``,
            ``retry``, ``prices``, ``history_turns``).

    The client is created on the first call, so a replaying generator needs no key.
    """

    provider = "openai"
    key_env = "OPENAI_API_KEY"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 120.0,
        token_field: str | None = None,
        **options,
    ) -> None:
        super().__init__(model, **options)
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or OFFICIAL_BASE_URL).rstrip(
            "/"
        )
        self.official = self.base_url == OFFICIAL_BASE_URL
        self.api_key = api_key if api_key is not None else os.environ.get(self.key_env)
        self.timeout = timeout
        self.token_field = token_field or (
            "max_completion_tokens" if self.official else "max_tokens"
        )
        self._client: openai.OpenAI | None = None

    @property
    def client(self) -> openai.OpenAI:
        """The SDK client (created on first use).

        Raises:
            GeneratorError: no API key for api.openai.com.
        """
        if self._client is None:
            import openai

            key = self.api_key
            if not key:
                if self.official:
                    raise GeneratorError(
                        f"{self.name}: {self.key_env} is not set; export it, point "
                        "OPENAI_BASE_URL at a compatible server, or use --model templates"
                    )
                key = "not-needed"
            self._client = openai.OpenAI(
                api_key=key, base_url=self.base_url, max_retries=0, timeout=self.timeout
            )
        return self._client

    def _complete(self, request: dict, timeout: float) -> dict:
        import httpx2 as httpx
        import openai

        messages = [{"role": "system", "content": request["system"]}, *request["messages"]]
        kwargs: dict = {
            "model": request["model"],
            "messages": messages,
            self.token_field: request["max_tokens"],
            "stream": True,  # read the reply as it comes, to stop at the token budget
            "stream_options": {"include_usage": True},
            "timeout": timeout,
        }
        temperature = request.get("temperature")
        if temperature is not None and not request["model"].startswith(_FIXED_TEMPERATURE):
            kwargs["temperature"] = temperature
        meta: dict = {"id": "", "model": request["model"], "finish": None, "usage": None}
        malformed = ""
        try:
            stream = self.client.chat.completions.create(**kwargs)
            try:
                text, counted, cut = self.read_stream(_deltas(stream, meta), request, stream.close)
            except UnicodeDecodeError as exc:  # the SDK decodes each event as UTF-8
                stream.close()
                text, counted, cut = "", 0, ""
                malformed = f"your answer was not valid UTF-8 text ({exc.reason} at byte {exc.start}); answer in UTF-8"
        except openai.APIStatusError as exc:
            if exc.status_code == 429 and exc.code == "insufficient_quota":  # billing, not load
                raise GeneratorError(
                    f"{self.name}: the account behind {self.key_env} has run out of quota; "
                    f"check its plan and billing (HTTP 429: {_message(exc.body, exc.message)})"
                ) from exc
            raise self.http_error(
                exc.status_code, _message(exc.body, exc.message), exc.response.headers
            ) from exc
        except (openai.APITimeoutError, httpx.TimeoutException) as exc:
            raise TransientError(f"timed out after {timeout:.3g} s ({exc})") from exc
        except (openai.APIConnectionError, httpx.TransportError) as exc:
            raise TransientError(f"cannot connect to {self.base_url} ({exc})") from exc
        return self._result(request, text, counted, cut, meta, malformed)

    def _result(self, request: dict, text: str, counted: int, cut: str, meta: dict, malformed: str) -> dict:
        """The completion as the shared model loop reads it: text, stop reason, token usage
        (the server's, else counted here and marked ``usage_estimated``) and the raw reply."""
        out = {
            "text": text,
            "stop_reason": "length" if cut else meta["finish"],
            "model": meta["model"],
            "id": meta["id"],
        }
        usage = meta["usage"]
        if usage is not None and not cut:
            out["input_tokens"] = usage.prompt_tokens
            out["output_tokens"] = usage.completion_tokens
        else:  # some compatible servers send no usage block, or the reply was cut: count it
            out["input_tokens"] = self.tokens.count_messages(request["system"], request["messages"])
            out["output_tokens"] = counted
            out["usage_estimated"] = True
        if cut:
            out["cut"] = cut
        if malformed:
            out["malformed"] = malformed
        out["raw"] = {"id": out["id"], "object": "chat.completion", "model": out["model"],
                      "choices": [{"index": 0, "finish_reason": out["stop_reason"],
                                   "message": {"role": "assistant", "content": text}}],
                      "usage": {"prompt_tokens": out["input_tokens"],
                                "completion_tokens": out["output_tokens"]}}
        return out


def _deltas(stream, meta: dict):
    """The text deltas of a Chat Completions stream; fills ``meta`` (id, model, finish, usage)."""
    for chunk in stream:
        meta["id"] = chunk.id or meta["id"]
        meta["model"] = chunk.model or meta["model"]
        if chunk.usage is not None:
            meta["usage"] = chunk.usage
        for choice in chunk.choices or ():
            if choice.finish_reason:
                meta["finish"] = choice.finish_reason
            if choice.index == 0 and choice.delta is not None and choice.delta.content:
                yield choice.delta.content


def _message(body: object, fallback: str) -> str:
    """The error message from an OpenAI-style error body (``{"error": {"message": ...}}``)."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return fallback
