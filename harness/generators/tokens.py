"""Token counting: exact with ``tiktoken`` for OpenAI models when possible, else an estimate.

``tiktoken`` downloads its BPE files from a remote host on first use and caches them
(``TIKTOKEN_CACHE_DIR``, else ``$TMPDIR/data-gym-cache``). loopwright never triggers
that download by itself: an encoding is used only if its file is already in the
cache, or if ``LOOPWRIGHT_TIKTOKEN_DOWNLOAD=1`` is set. Otherwise, and for every
non-OpenAI model (Anthropic publishes no local tokenizer), the count is an honest
estimate: ``ceil(utf-8 bytes / 4)``, the usual average for English and code.
:meth:`TokenCounter.upper` is the conservative variant used for budget checks
(``ceil(bytes / 3)`` when estimating, since code with many symbols runs denser).
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import tempfile
from typing import Any

_BPE_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
_BPE_FILE = {  # encoding name -> the .tiktoken file it loads
    "cl100k_base": "cl100k_base",
    "o200k_base": "o200k_base",
    "o200k_harmony": "o200k_base",
    "p50k_base": "p50k_base",
    "p50k_edit": "p50k_base",
    "r50k_base": "r50k_base",
}
#: Tokens a chat message costs beyond its content (role, separators), per provider docs.
MESSAGE_OVERHEAD = 4


def _cache_dir() -> str:
    env = os.environ
    if "TIKTOKEN_CACHE_DIR" in env:
        return env["TIKTOKEN_CACHE_DIR"]
    if "DATA_GYM_CACHE_DIR" in env:
        return env["DATA_GYM_CACHE_DIR"]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _cached(encoding_name: str) -> bool:
    name = _BPE_FILE.get(encoding_name)
    if name is None or not _cache_dir():
        return False
    key = hashlib.sha1(_BPE_URL.format(name).encode()).hexdigest()
    return os.path.exists(os.path.join(_cache_dir(), key))


@functools.lru_cache(maxsize=16)
def _encoding(model: str) -> Any | None:
    """The tiktoken encoding for ``model`` if available offline; None otherwise."""
    try:
        import tiktoken
        from tiktoken.model import encoding_name_for_model

        name = encoding_name_for_model(model)
    except (ImportError, KeyError):
        return None
    if not _cached(name) and os.environ.get("LOOPWRIGHT_TIKTOKEN_DOWNLOAD") != "1":
        return None
    try:
        return tiktoken.get_encoding(name)
    except Exception:  # noqa: BLE001 - a failed download or a corrupt cache: estimate instead
        return None


class TokenCounter:
    """Counts tokens for one model.

    Args:
        provider: ``openai``, ``anthropic`` or another name (only ``openai`` can be exact).
        model: the model id, e.g. ``gpt-4.1-mini``.

    Attributes:
        exact: True when counts come from the model's real tokenizer.
        method: ``tiktoken:<encoding>`` or ``estimate:bytes/4``, for reports.
    """

    def __init__(self, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self._enc = _encoding(model) if provider == "openai" else None
        self.exact = self._enc is not None
        self.method = f"tiktoken:{self._enc.name}" if self._enc is not None else "estimate:bytes/4"

    def count(self, text: str) -> int:
        """Tokens in ``text`` (exact, or ``ceil(utf-8 bytes / 4)``)."""
        if self._enc is not None:
            return len(self._enc.encode(text, disallowed_special=()))
        return estimate_tokens(text)

    def upper(self, text: str) -> int:
        """An upper bound on the tokens in ``text`` (exact, or ``ceil(bytes / 3)``)."""
        if self._enc is not None:
            return self.count(text)
        return math.ceil(len(text.encode("utf-8")) / 3)

    def count_messages(self, system: str, messages: list[dict], upper: bool = False) -> int:
        """Tokens of a chat request's system text and messages, with per-message overhead."""
        fn = self.upper if upper else self.count
        total = fn(system) + MESSAGE_OVERHEAD if system else 0
        for m in messages:
            total += fn(str(m.get("content", ""))) + MESSAGE_OVERHEAD
        return total + 3  # the reply's priming tokens


def estimate_tokens(text: str) -> int:
    """``ceil(utf-8 bytes / 4)``: the estimate used when no tokenizer is available."""
    return math.ceil(len(text.encode("utf-8")) / 4)
