"""Budgets hold *during* a model call: hostile local servers (evals/model_server.py, 127.0.0.1
only) that hang, ask for ``Retry-After: 100000``, flood tokens past ``max_tokens``, or send
bytes that are not UTF-8. Every wait here is bounded by a deadline of a second or two."""

from __future__ import annotations

import dataclasses
import time

import pytest

from evals.model_server import Error, FakeLLMServer, Reply
from harness.core.config import RunConfig
from harness.work.fix import fix
from harness.core.protocols import BudgetExceeded, GeneratorError
from harness.generators.retrying import RetryPolicy
from harness.generators.registry import make_generator
from harness.core.stop import BEFORE_CALL, Observation, check, usd
from harness.core.state import RunState
from loops.spec import Limits
from tests.conftest import PYTHON
from tests.test_fix import CLAMP
from tests.llm_support import GOOD, anthropic, openai
from tests.llm_support import context, no_real_provider_env  # noqa: F401 (fixtures: a calculator with one failing test; never real keys)


SLOW_SERVER = 30.0  # seconds a hanging reply would take; every test must end long before


def within(ctx, seconds: float | None = None, tokens: int | None = None):
    return dataclasses.replace(ctx, deadline=None if seconds is None else time.monotonic() + seconds,
                               tokens_left=tokens)


@pytest.mark.parametrize("make", [openai, anthropic])
def test_a_hanging_server_cannot_hold_the_call_past_the_deadline(context, make):
    with FakeLLMServer([Reply(GOOD, delay=SLOW_SERVER)] * 4) as srv:
        gen = make(srv, timeout=120.0, retry=RetryPolicy())  # the defaults: 4 × 120 s
        assert gen.client is not None  # the SDK's import (seconds under load) is not the point here
        t0 = time.monotonic()
        with pytest.raises(BudgetExceeded) as err:
            gen.generate(within(context, 1.0))
        took = time.monotonic() - t0
    assert took < SLOW_SERVER / 3, took  # a 1 s deadline, not the server's 30 s (slack for a loaded machine)
    assert err.value.reason == "max_wall_seconds"
    assert "time budget" in str(err.value)


def test_retry_after_100000_is_not_waited_for_past_the_deadline(context):
    with FakeLLMServer([Error(429, "slow down", headers={"retry-after": "100000"}), GOOD]) as srv:
        gen = openai(srv, retry=RetryPolicy())  # the default cap of 30 s would still be too long
        waits: list[float] = []
        gen.sleep = waits.append
        with pytest.raises(BudgetExceeded, match="no time left for another attempt") as err:
            gen.generate(within(context, 2.0))
    assert waits == [] and len(srv.requests) == 1
    assert "HTTP 429: slow down" in str(err.value)


def test_retry_waits_that_fit_the_deadline_are_still_made(context):
    with FakeLLMServer([Error(503, "busy", headers={"retry-after": "0.1"}), GOOD]) as srv:
        gen = openai(srv, retry=RetryPolicy())
        proposal = gen.generate(within(context, 10.0))
    assert len(proposal.candidates) == 1 and len(srv.requests) == 2


def test_without_a_deadline_the_policy_alone_bounds_retries(context):
    with FakeLLMServer([Error(500, "down")] * 3) as srv:
        gen = openai(srv, retry=RetryPolicy(attempts=3, max_wait=5, initial=0.01, max_backoff=0.02))
        with pytest.raises(GeneratorError, match="gave up after 3 attempts") as err:
            gen.generate(context)
    assert not isinstance(err.value, BudgetExceeded)


@pytest.mark.parametrize("make", [openai, anthropic])
def test_a_token_flood_is_cut_at_max_tokens(context, make):
    flood = Reply("flood " * 200, repeat=100_000)  # ~30 M tokens if read to the end
    with FakeLLMServer([flood]) as srv:
        gen = make(srv, max_tokens=2000)
        proposal = gen.generate(context)
    out = proposal.usage.output_tokens
    assert 2000 < out <= 2000 + 400, out  # one chunk past the limit at most
    assert any("kept sending past max_tokens=2000" in n for n in proposal.notes)
    assert not proposal.candidates and gen.malformed_in_row == 1  # fed back like a bad answer


@pytest.mark.parametrize("make", [openai, anthropic])
def test_each_request_asks_only_for_what_the_token_budget_leaves(context, make):
    with FakeLLMServer([GOOD]) as srv:
        gen = make(srv, max_tokens=4096)
        ctx = within(context, tokens=gen.estimate(context).input_tokens + 600)
        proposal = gen.generate(ctx)
    asked = srv.bodies()[0].get("max_tokens") or srv.bodies()[0].get("max_completion_tokens")
    assert asked <= 600 and len(proposal.candidates) == 1


def test_too_little_budget_left_refuses_the_call_before_it_is_made(context):
    with FakeLLMServer([GOOD]) as srv:
        gen = openai(srv, max_tokens=4096)
        est = gen.estimate(within(context, tokens=100))
    limits = Limits(max_tokens=100)
    run = RunState("r", "fix", ".", "")
    run.spent.cost_usd = None
    seen = Observation(run, 0.0, 0.0, next_usd=est.cost_usd, next_tokens=est.input_tokens + est.output_tokens)
    stop = check(seen, limits, BEFORE_CALL)
    assert stop is not None and stop.reason == "max_tokens"
    assert srv.requests == []


@pytest.mark.parametrize("make", [openai, anthropic])
def test_a_reply_that_is_not_utf8_is_fed_back_not_a_crash(context, make):
    with FakeLLMServer([Reply(GOOD, raw_bytes=b"\xff\xfe\xfd"), GOOD]) as srv:
        gen = make(srv)
        first = gen.generate(context)
        second = gen.generate(context)
    assert not first.candidates and any("not valid UTF-8" in n for n in first.notes)
    assert len(second.candidates) == 1
    assert "not valid UTF-8" in srv.bodies()[1]["messages"][-1]["content"]


def test_a_reply_with_lone_surrogates_still_makes_a_patch(context):
    sneaky = GOOD.replace("result = a + b", "result = a + b  # \ud800 odd")
    with FakeLLMServer([sneaky]) as srv:
        proposal = openai(srv).generate(context)
    (patch,) = proposal.candidates
    assert "\ufffd odd" in patch.diff and len(patch.digest) == 16


def test_max_seconds_ends_a_fix_run_stuck_in_a_hanging_call(make_repo):
    root = make_repo(CLAMP)
    with FakeLLMServer([Reply(GOOD, delay=SLOW_SERVER)] * 4) as srv:
        gen = make_generator("openai:gpt-4.1-mini", base_url=srv.openai_url, env={"OPENAI_API_KEY": "k"})
        t0 = time.monotonic()
        res = fix(root, gen, RunConfig(python=PYTHON, limits=Limits(max_wall_seconds=6.0)))
        took = time.monotonic() - t0
    assert res.state.stop_reason == "max_wall_seconds", res.state.stop_detail
    assert took < 6.0 + SLOW_SERVER / 2, took  # the deadline plus setup and finishing, not the server's delay
    assert res.exit_code == 1


def test_budgets_are_shown_with_the_digits_they_need():
    assert usd(0.005) == "$0.005" and usd(1.5) == "$1.50" and usd(0.0123) == "$0.0123"
    seen = Observation(RunState("r", "fix", ".", ""), 0.0, 0.0, next_usd=0.004, next_tokens=10)
    stop = check(seen, Limits(max_cost_usd=0.003), BEFORE_CALL)
    assert stop is not None and "$0.003 budget" in stop.detail


def test_max_cost_for_a_model_without_a_price_is_said_to_be_unenforceable(make_repo):
    from tests.test_fix_llm import GOOD as CLAMP_FIX

    root = make_repo(CLAMP)
    with FakeLLMServer([CLAMP_FIX]) as srv:
        gen = make_generator("openai:my-local-llama", base_url=srv.openai_url, env={})
        res = fix(root, gen, RunConfig(python=PYTHON, limits=Limits(max_cost_usd=0.005)))
    assert res.state.status == "fixed"
    assert res.to_json()["cost_budget"] == "unenforceable"
    assert any(m.startswith("--max-cost $0.005 cannot be enforced: the price of openai:my-local-llama "
                            "is unknown") for m in res.messages), res.messages


def test_cost_budget_is_enforced_for_a_priced_model_and_absent_without_max_cost():
    from harness.work.fix import cost_budget

    notes: list[str] = []
    priced = make_generator("openai:gpt-4.1-mini", env={"OPENAI_API_KEY": "k"})
    assert cost_budget(priced, Limits(max_cost_usd=1.0), notes.append) == "enforced"
    assert cost_budget(priced, Limits(), notes.append) == "none" and notes == []
