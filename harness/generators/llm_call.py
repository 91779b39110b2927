"""The model call of :class:`~harness.generators.llm.LLMGenerator`: one request dict in,
one response dict out, with retries, deadlines, streaming limits and usage.

:class:`ModelCall` is the half of the generator that talks to the provider; the other
half (:mod:`harness.generators.llm`) builds the requests and reads the answers. A
provider subclass implements :meth:`ModelCall._complete` (one HTTP call with an official
SDK) and maps its errors with :meth:`ModelCall.http_error`; retries use the tenacity
policy of :mod:`harness.generators.retrying`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping

import tenacity

from harness.core.protocols import BudgetExceeded, GeneratorError, Usage
from harness.core.stop import out_of_time, time_is_up
from harness.generators.pricing import Price, cost_usd
from harness.generators.retrying import RetryPolicy, TransientError, deadline_fired, parse_retry_after, retrying
from harness.generators.tokens import TokenCounter
from sandbox.redact import redact_all


class ModelCall:
    """Sending requests to a chat model: retries, the run's deadline, usage in tokens and USD.

    A mixin: :class:`~harness.generators.llm.LLMGenerator` sets the attributes in its
    ``__init__``.

    Attributes:
        name: ``provider:model``. model: the provider's model id.
        key_env: the environment variable holding the API key (for error messages).
        base_url: the API root ("" for the provider's own).
        timeout: seconds per HTTP attempt; capped by the deadline.
        retry: the :class:`RetryPolicy`. sleep: how retry waits sleep (seconds).
        prices: a price table, or None for the packaged one.
        tokens: the :class:`TokenCounter` of the model.
        stats: ``{"calls", "retries", "waited", "malformed"}`` (waited in seconds).
    """

    name: str
    model: str
    key_env = ""
    base_url: str
    #: Seconds per HTTP attempt (subclasses take it as an argument); capped by the deadline.
    timeout: float = 120.0
    retry: RetryPolicy
    sleep: Callable[[float], None]
    prices: dict[str, Price] | None
    tokens: TokenCounter
    stats: dict
    _deadline: float | None  # time.monotonic() by which the next call must end

    def call(self, request: dict) -> dict:
        """Send ``request`` with retries; return the response dict with ``latency``
        (seconds, retries and waits included), ``attempts`` and ``retries`` (notes).

        Every attempt's timeout and every retry wait is capped by the time the run
        has left (``Context.deadline``): a hanging server or a ``Retry-After: 100000``
        cannot hold the run past ``--max-seconds``.

        Raises:
            GeneratorError: a non-retryable error, or retries exhausted ("gave up after
                N attempts over S s: last error ...").
            BudgetExceeded: the run's time ran out before or during the call
                (``reason`` ``max_wall_seconds``).
        """
        start = time.monotonic()
        deadline = self._deadline
        retries: list[str] = []
        request = redact_all(request)  # test output quoted in a prompt may carry a secret

        def before_sleep(state: tenacity.RetryCallState) -> None:
            wait = state.upcoming_sleep
            exc = state.outcome.exception() if state.outcome else None
            retries.append(f"attempt {state.attempt_number} failed ({exc}); waited {wait:.2f} s")
            self.stats["retries"] += 1
            self.stats["waited"] += wait

        def attempt() -> dict:
            timeout = self.timeout
            if deadline is not None:
                now = time.monotonic()
                stop = out_of_time(deadline, f"{self.name}: the run's time budget ran out before the "
                                   f"model answered ({_since(start)})", now)
                if stop:
                    raise BudgetExceeded(stop.reason, stop.detail)
                timeout = min(timeout, deadline - now)
            return self._complete(request, timeout)

        left = None if deadline is None else deadline - start
        policy = retrying(self.retry, left, self.sleep, before_sleep)
        try:
            response = policy(attempt)
        except TransientError as exc:
            attempts = policy.statistics.get("attempt_number", 1)
            if deadline_fired(policy):  # the retry policy saw the deadline (harness.core.stop says its name)
                stop = time_is_up(f"{self.name}: no time left for another attempt within the "
                                  f"run's time budget after {attempts} attempt(s) over {_since(start)}; "
                                  f"last error: {exc}")
                raise BudgetExceeded(stop.reason, stop.detail) from exc
            raise GeneratorError(
                f"{self.name}: gave up after {attempts} attempts over {_since(start)}: "
                f"last error: {exc}. The service may be overloaded or down; try again later "
                "or raise the retry budget"
            ) from exc
        self.stats["calls"] += 1
        response = dict(response)
        response["latency"] = round(time.monotonic() - start, 6)
        response["attempts"] = len(retries) + 1
        response["retries"] = retries
        return response

    def _complete(self, request: dict, timeout: float) -> dict:
        """One model call (no retries) within ``timeout`` seconds: ``{text, input_tokens,
        output_tokens, stop_reason, model, id, raw}``, plus ``cut`` (a note) when the
        reply was cut at ``request["max_tokens"]`` by loopwright because the server
        kept sending.

        Raises:
            TransientError: worth retrying. GeneratorError: not. BudgetExceeded: the
                deadline passed while the reply was streaming.
        """
        raise NotImplementedError

    def read_stream(self, deltas, request: dict, close: Callable[[], None]) -> tuple[str, int, str]:
        """Read a streamed reply's text ``deltas`` (an iterable of str), stopping at the budget.

        Stops reading (and calls ``close``) once the reply exceeds ``request["max_tokens"]``
        output tokens (counted with :class:`TokenCounter`, a server that ignores
        ``max_tokens`` cannot flood the run) or the call's deadline passes.

        Returns:
            ``(text, tokens counted, cut note or "")``.

        Raises:
            BudgetExceeded: the deadline passed mid-reply (``usage`` counts what was read).
        """
        limit = int(request["max_tokens"])
        parts: list[str] = []
        counted = 0
        for delta in deltas:
            if not delta:
                continue
            delta = clean_text(delta)
            parts.append(delta)
            counted += self.tokens.count(delta)
            if counted > limit:
                close()
                return "".join(parts), counted, (
                    f"the server kept sending past max_tokens={limit}; stopped reading at {counted} tokens")
            stop = out_of_time(self._deadline, f"{self.name}: the run's time budget ran out while the "
                               f"reply was streaming ({counted} tokens read)")
            if stop:
                close()
                tin = self.tokens.count_messages(request["system"], request["messages"])
                used = Usage(tin, counted, cost_usd(self.model, tin, counted, self.prices), 0.0, 1)
                raise BudgetExceeded(stop.reason, stop.detail, used)
        return "".join(parts), counted, ""

    def _usage(self, response: dict) -> Usage:
        tin, tout = int(response.get("input_tokens", 0)), int(response.get("output_tokens", 0))
        cost = cost_usd(self.model, tin, tout, self.prices)
        return Usage(tin, tout, cost, float(response.get("latency", 0.0)), 1)

    def http_error(self, status: int, message: str, headers: Mapping[str, str] | None) -> Exception:
        """Map an HTTP error to :class:`TransientError` (408/409/429/5xx) or an actionable
        :class:`GeneratorError` (other 4xx)."""
        detail = f"HTTP {status}: {message}"
        if status == 429 or status in (408, 409) or status >= 500:
            return TransientError(detail, parse_retry_after(headers))
        where = self.base_url or "the provider"
        fixes = {
            401: f"the API key in {self.key_env} was rejected by {where}; set a valid key",
            403: f"the API key in {self.key_env} may not use model {self.model!r}; check the "
            "key's permissions, or choose another model with --model",
            404: f"model {self.model!r} not found at {where}; check the model name "
            "(--model PROVIDER:MODEL) and the base URL",
            400: "the request was rejected as invalid; if the prompt is too long for the "
            "model, lower max_context_tokens",
            402: f"the account behind {self.key_env} cannot pay for this call; check its billing",
            413: "the request is too large for the API; lower max_context_tokens",
        }
        fix = fixes.get(status, "the request was refused")
        return GeneratorError(f"{self.name}: {fix} ({detail})")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _since(start: float) -> str:
    return f"{time.monotonic() - start:.1f} s"


def clean_text(text: object) -> str:
    """A reply's text as valid Unicode: lone surrogates (from ``\\ud800`` JSON escapes)
    become U+FFFD, so hashing and writing it cannot fail; None becomes ``""``."""
    value = "" if text is None else str(text)
    return _SURROGATE.sub("\ufffd", value)
