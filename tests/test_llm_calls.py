"""The model call against a local server speaking the real OpenAI and Anthropic wire
formats: retries and errors that say what to fix, usage, cost and token counts.

The official SDKs are pointed at :mod:`evals.model_server` by ``base_url``; nothing
leaves 127.0.0.1.
"""

from __future__ import annotations

import math

import pytest

from harness.core.protocols import Usage
from harness.core.protocols import GeneratorError
from harness.generators.retrying import RetryPolicy, parse_retry_after
from harness.generators.openai_gen import OpenAIGenerator
from harness.generators.pricing import cost_usd, format_cost, price_for
from harness.generators.tokens import TokenCounter
from evals.model_server import Error, FakeLLMServer, Reply
from tests.llm_support import GOOD, anthropic, openai
from tests.llm_support import context, no_real_provider_env  # noqa: F401 (fixtures)


# -- retries and errors --------------------------------------------------------------------------


def test_429_with_retry_after_is_honoured_capped_then_succeeds(context):
    limited = Error(429, "Rate limit reached for requests", headers={"retry-after": "7"})
    with FakeLLMServer([limited, GOOD]) as srv:
        gen = openai(srv)  # cap 0.2 s in tests
        proposal = gen.generate(context)
    assert len(proposal.candidates) == 1
    first, second = srv.requests
    assert 0.18 <= second.at - first.at < 1.5  # waited the capped Retry-After, not 7 s
    assert gen.stats["retries"] == 1 and gen.stats["waited"] == pytest.approx(0.2)
    assert proposal.notes == ["retried: attempt 1 failed (HTTP 429: Rate limit reached for requests); waited 0.20 s"]
    assert proposal.usage.calls == 1 and proposal.usage.latency >= 0.18


def test_anthropic_retry_after_ms_and_overloaded(context):
    with FakeLLMServer([Error(429, headers={"retry-after-ms": "120"}), Error(529, "Overloaded"), GOOD]) as srv:
        gen = anthropic(srv)
        proposal = gen.generate(context)
    assert len(proposal.candidates) == 1 and len(srv.requests) == 3
    assert srv.requests[1].at - srv.requests[0].at >= 0.11
    assert "overloaded_error: Overloaded" in proposal.notes[1]


def test_500s_until_the_retry_budget_ends_raise_a_clear_error(context):
    with FakeLLMServer([Error(500, "The server had an error")] * 5) as srv:
        gen = openai(srv, retry=RetryPolicy(attempts=3, max_wait=5, initial=0.01, max_backoff=0.02))
        with pytest.raises(GeneratorError) as err:
            gen.generate(context)
    assert len(srv.requests) == 3
    msg = str(err.value)
    assert msg.startswith("openai:gpt-4.1-mini: gave up after 3 attempts over ")
    assert "last error: HTTP 500: The server had an error" in msg
    assert err.value.stop is True and isinstance(err.value, RuntimeError)


def test_total_wait_budget_stops_retrying_early(context):
    slow = Error(503, "busy", headers={"retry-after": "1"})
    with FakeLLMServer([slow] * 4) as srv:
        gen = openai(srv, retry=RetryPolicy(attempts=10, max_wait=0.5, retry_after_cap=0.3))
        with pytest.raises(GeneratorError, match=r"gave up after [12] attempts"):
            gen.generate(context)
    # a second 0.3 s wait would end past the 0.5 s budget (counted from the first attempt, as
    # tenacity's stop_before_delay does: one retry, or none when the first request took > 0.2 s)
    assert len(srv.requests) <= 2 and gen.stats["waited"] <= 0.3


def test_timeout_is_retried(context):
    with FakeLLMServer([Reply(GOOD, delay=1.0), GOOD]) as srv:
        gen = openai(srv, timeout=0.3)
        proposal = gen.generate(context)
    assert len(proposal.candidates) == 1 and len(srv.requests) == 2
    assert "timed out after 0.3 s" in proposal.notes[0]


def test_401_stops_at_once_with_what_to_fix(context):
    bad_key = Error(401, "Incorrect API key provided: sk-test.")
    with FakeLLMServer([bad_key, GOOD]) as srv:
        with pytest.raises(GeneratorError) as err:
            openai(srv).generate(context)
        assert len(srv.requests) == 1
    assert "the API key in OPENAI_API_KEY was rejected" in str(err.value)
    assert "Incorrect API key provided" in str(err.value)


def test_anthropic_401_names_its_key(context):
    with FakeLLMServer([Error(401, "invalid x-api-key")]) as srv:
        with pytest.raises(GeneratorError, match="ANTHROPIC_API_KEY was rejected.*invalid x-api-key"):
            anthropic(srv).generate(context)
        assert len(srv.requests) == 1


def test_openai_insufficient_quota_is_not_retried(context):
    quota = Error(
        429,
        "You exceeded your current quota, please check your plan and billing.",
        body={
            "error": {
                "message": "You exceeded your current quota.",
                "type": "insufficient_quota",
                "param": None,
                "code": "insufficient_quota",
            }
        },
    )
    with FakeLLMServer([quota, GOOD]) as srv:
        with pytest.raises(GeneratorError, match="run out of quota"):
            openai(srv).generate(context)
        assert len(srv.requests) == 1


def test_404_names_the_model_and_the_server(context):
    missing = Error(404, "The model `gpt-nope` does not exist or you do not have access to it.")
    with FakeLLMServer([missing]) as srv:
        with pytest.raises(GeneratorError) as err:
            openai(srv, model="gpt-nope").generate(context)
        assert len(srv.requests) == 1
    assert f"model 'gpt-nope' not found at {srv.openai_url}" in str(err.value)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
    ],
)
def test_parse_retry_after(headers, seconds):
    assert parse_retry_after(headers) == seconds


# -- usage and cost -----------------------------------------------------------------------------


def test_usage_and_cost_for_a_known_and_an_unknown_model(context):
    with FakeLLMServer(
        [
            Reply(GOOD, input_tokens=1000, output_tokens=200),
            Reply(GOOD, input_tokens=1000, output_tokens=200),
        ]
    ) as srv:
        known = openai(srv, model="gpt-4.1-mini").generate(context).usage
        unknown = openai(srv, model="my-local-llama").generate(context).usage
    assert (known.input_tokens, known.output_tokens, known.calls) == (1000, 200, 1)
    assert known.cost_usd == pytest.approx((1000 * 0.40 + 200 * 1.60) / 1e6)
    assert known.latency > 0
    assert unknown.input_tokens == 1000 and unknown.cost_usd is None
    assert format_cost(unknown.cost_usd) == "unknown" and format_cost(known.cost_usd) == "$0.0007"
    total = Usage()
    total.add(known)
    total.add(unknown)
    assert total.calls == 2 and total.cost_usd is None  # unknown stays unknown


def test_missing_usage_block_is_estimated(context):
    with FakeLLMServer([Reply(GOOD, usage=False)]) as srv:
        usage = openai(srv, model="llama3").generate(context).usage
    assert usage.output_tokens == math.ceil(len(GOOD.encode()) / 4) and usage.input_tokens > 100


def test_estimate_is_an_upper_bound_on_the_next_call(context):
    with FakeLLMServer([GOOD]) as srv:
        gen = anthropic(srv, max_tokens=1000)
        before = gen.estimate(None)
        est = gen.estimate(context)
        actual = gen.generate(context).usage  # the server counts ceil(bytes / 4)
    assert est.output_tokens == 1000 and est.calls == 1
    assert est.input_tokens >= actual.input_tokens
    assert est.cost_usd == pytest.approx(cost_usd("claude-haiku-4-5", est.input_tokens, 1000))
    assert before.input_tokens >= gen.max_context_tokens
    assert gen.estimate(None).input_tokens > actual.input_tokens  # the conversation so far


def test_prices_and_token_counts():
    assert price_for("claude-sonnet-4-5-20250929") == price_for("claude-sonnet-4-5")
    assert price_for("gpt-4.1-mini-2025-04-14").input == 0.4
    assert price_for("gpt-4.1-mini-turbo") is None
    counter = TokenCounter("anthropic", "claude-sonnet-4-5")
    assert not counter.exact and counter.count("abcdefgh") == 2 and counter.upper("abcdefghi") == 3


def test_tiktoken_never_downloads(monkeypatch, tmp_path):
    import tiktoken.load

    from harness.generators import tokens

    def no_network(url):
        raise AssertionError(f"tiktoken tried to download {url}")

    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # empty cache
    tokens._encoding.cache_clear()
    counter = TokenCounter("openai", "gpt-4o-mini")
    assert not counter.exact and counter.method == "estimate:bytes/4"
    assert counter.count("x" * 10) == 3
    tokens._encoding.cache_clear()


def test_connection_errors_are_retried_then_reported(context):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gen = OpenAIGenerator(
        "gpt-4.1-mini",
        api_key="k",
        base_url=f"http://127.0.0.1:{port}/v1",
        retry=RetryPolicy(attempts=2, initial=0.01, max_backoff=0.02),
    )
    with pytest.raises(GeneratorError) as err:
        gen.generate(context)
    assert "gave up after 2 attempts" in str(err.value)
    assert f"cannot connect to http://127.0.0.1:{port}/v1" in str(err.value)
    assert gen.stats["retries"] == 1
