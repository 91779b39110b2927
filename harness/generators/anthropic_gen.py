"""Anthropic Messages API generator through the official ``anthropic`` SDK.

The SDK's own retries are off (``max_retries=0``): retries are
:class:`~harness.generators.llm.LLMGenerator`'s, bounded by the run's time left and
counted. 529 (overloaded) is retried like any 5xx. Replies are streamed
(``messages.stream``) so that loopwright stops reading at ``max_tokens`` even when a
server ignores it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from harness.core.protocols import GeneratorError
from harness.generators.llm import LLMGenerator
from harness.generators.retrying import TransientError

if TYPE_CHECKING:  # the SDK is imported on first use: it is slow to import
    import anthropic

OFFICIAL_BASE_URL = "https://api.anthropic.com"


class AnthropicGenerator(LLMGenerator):
    """Messages API (``client.messages.create``).

    Args:
        model: model id, e.g. ``claude-sonnet-4-6``.
        api_key: the key; None reads ``ANTHROPIC_API_KEY``.
        base_url: API root without ``/v1``; None reads ``ANTHROPIC_BASE_URL``, else
            ``https://api.anthropic.com``.
        timeout: seconds per HTTP request, lowered to the run's time left (a timeout is retried).
        **options: :class:`~harness.generators.llm.LLMGenerator` options.

    Input tokens include cache-creation and cache-read tokens when the API reports
    them (loopwright sets no cache breakpoints, so they are normally 0).
    The client is created on the first call, so a replaying generator needs no key.
    """

    provider = "anthropic"
    key_env = "ANTHROPIC_API_KEY"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 120.0,
        **options,
    ) -> None:
        super().__init__(model, **options)
        base = base_url or os.environ.get("ANTHROPIC_BASE_URL") or OFFICIAL_BASE_URL
        self.base_url = base.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get(self.key_env)
        self.timeout = timeout
        self._client: anthropic.Anthropic | None = None

    @property
    def client(self) -> anthropic.Anthropic:
        """The SDK client (created on first use).

        Raises:
            GeneratorError: no API key.
        """
        if self._client is None:
            import anthropic

            if not self.api_key:
                raise GeneratorError(
                    f"{self.name}: {self.key_env} is not set; export it or use --model templates"
                )
            self._client = anthropic.Anthropic(
                api_key=self.api_key, base_url=self.base_url, max_retries=0, timeout=self.timeout
            )
        return self._client

    def _complete(self, request: dict, timeout: float) -> dict:
        import anthropic
        import httpx2 as httpx

        kwargs: dict = {
            "model": request["model"],
            "system": request["system"],
            "messages": request["messages"],
            "max_tokens": request["max_tokens"],
            "timeout": timeout,
        }
        if request.get("temperature") is not None:
            kwargs["temperature"] = request["temperature"]
        malformed = ""
        try:
            with self.client.messages.stream(**kwargs) as stream:
                try:
                    text, counted, cut = self.read_stream(
                        (e.delta.text for e in stream
                         if e.type == "content_block_delta" and e.delta.type == "text_delta"),
                        request, stream.close)
                except UnicodeDecodeError as exc:  # the SDK decodes each event as UTF-8
                    text, counted, cut = "", 0, ""
                    malformed = (f"your answer was not valid UTF-8 text ({exc.reason} at byte "
                                 f"{exc.start}); answer in UTF-8")
                resp = stream.current_message_snapshot
        except anthropic.APIStatusError as exc:
            raise self.http_error(
                exc.status_code, _message(exc.body, exc.message), exc.response.headers
            ) from exc
        except (anthropic.APITimeoutError, httpx.TimeoutException) as exc:
            raise TransientError(f"timed out after {timeout:.3g} s ({exc})") from exc
        except (anthropic.APIConnectionError, httpx.TransportError) as exc:
            raise TransientError(f"cannot connect to {self.base_url} ({exc})") from exc
        usage = resp.usage
        tokens_in = usage.input_tokens + sum(
            getattr(usage, f, None) or 0
            for f in ("cache_creation_input_tokens", "cache_read_input_tokens")
        )
        out = {
            "text": text,
            "input_tokens": tokens_in,
            "output_tokens": max(usage.output_tokens, counted),
            "stop_reason": "max_tokens" if cut else resp.stop_reason,
            "model": resp.model,
            "id": resp.id,
            "raw": resp.model_dump(mode="json"),
        }
        if cut:
            out["cut"] = cut
        if malformed:
            out["malformed"] = malformed
        return out


def _message(body: object, fallback: str) -> str:
    """The message of an Anthropic error body (``{"type": "error", "error": {...}}``)."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return f"{inner.get('type', 'error')}: {inner['message']}"
    return fallback
