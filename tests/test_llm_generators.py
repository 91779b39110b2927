"""LLM generators against a local server speaking the real OpenAI and Anthropic wire formats.

The official SDKs are pointed at :mod:`evals.model_server` by ``base_url``; nothing
leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from evals.verdict import Frame, TestResult
from harness.core.context import Attempt, Context, SuspiciousLocation
from harness.generators.anthropic_gen import AnthropicGenerator
from harness.generators.base import Generator, Usage
from harness.core.protocols import GeneratorError
from harness.generators.retrying import RetryPolicy, parse_retry_after
from harness.generators.openai_gen import OpenAIGenerator
from harness.generators.pricing import cost_usd, format_cost, price_for
from harness.generators.prompt import build_first
from harness.generators.snippets import pack
from harness.generators.registry import default_generator_spec, make_generator
from harness.generators.tokens import TokenCounter
from harness.core.task import Task
from evals.model_server import ANTHROPIC_PATH, OPENAI_PATH, Error, FakeLLMServer, Reply

TEST_ID = "tests/test_calc.py::test_add"
MESSAGE = "AssertionError: assert -1 == 3"
AGENTS = "Run tests with `pytest -q`. Never use tabs; the house style is UNIQUE-CONVENTION-42."
FAST = RetryPolicy(attempts=4, max_wait=2.0, initial=0.01, max_backoff=0.05, retry_after_cap=0.2)

CALC = '''\
"""A tiny calculator."""


def add(a, b):
    """Sum of a and b."""
    result = a - b
    return result


def sub(a, b):
    return a - b
'''

GOOD = """The sign in `add` is wrong: it subtracts.

calc.py
```python
<<<<<<< SEARCH
    result = a - b
    return result
=======
    result = a + b
    return result
>>>>>>> REPLACE
```
"""

TO_TEST_FILE = """Make the test expect the current behaviour.

tests/test_calc.py
<<<<<<< SEARCH
    assert add(1, 2) == 3
=======
    assert add(1, 2) == -1
>>>>>>> REPLACE
"""

NOT_MATCHING = """calc.py
<<<<<<< SEARCH
    result = a - c
=======
    result = a + b
>>>>>>> REPLACE
"""


@pytest.fixture(autouse=True)
def no_real_provider_env(monkeypatch):
    """A developer's real keys or endpoints must never be used by these tests."""
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def context(tmp_path: Path) -> Context:
    (tmp_path / "calc.py").write_text(CALC)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    frames = (
        Frame("/usr/lib/python3/site-packages/_pytest/python.py", 187, "pytest_pyfunc_call"),
        Frame("tests/test_calc.py", 5, "test_add"),
        Frame("calc.py", 6, "add"),
    )
    result = TestResult(TEST_ID, "failed", MESSAGE, frames)
    return Context(
        root=tmp_path,
        task=Task("failing_tests", failing={TEST_ID: result}),
        locations=[SuspiciousLocation("calc.py", 6, 0.95), SuspiciousLocation("calc.py", 11, 0.3)],
        protected=("tests/**", "conftest.py"),
        lessons=["off-by-one errors in calc.py were fixed by changing a comparison"],
        conventions=AGENTS,
    )


def openai(srv: FakeLLMServer, model: str = "gpt-4.1-mini", **kw) -> OpenAIGenerator:
    kw.setdefault("retry", FAST)
    return OpenAIGenerator(model, api_key="sk-test", base_url=srv.openai_url, **kw)


def anthropic(srv: FakeLLMServer, model: str = "claude-haiku-4-5", **kw) -> AnthropicGenerator:
    kw.setdefault("retry", FAST)
    return AnthropicGenerator(model, api_key="sk-ant-test", base_url=srv.anthropic_url, **kw)


def user_text(body: dict) -> str:
    return body["messages"][-1]["content"]


# -- a good edit ------------------------------------------------------------------------------


def test_openai_good_edit_gives_the_right_patch_and_an_informed_prompt(context):
    with FakeLLMServer([GOOD]) as srv:
        gen = openai(srv)
        assert isinstance(gen, Generator)
        proposal = gen.generate(context)
    [patch] = proposal.candidates
    assert patch.files == ("calc.py",)
    assert "-    result = a - b\n+    result = a + b\n" in patch.diff
    assert patch.description == "The sign in `add` is wrong: it subtracts."
    assert patch.meta["generator"] == "openai:gpt-4.1-mini"
    assert not proposal.blocked and proposal.notes == []
    assert (context.root / "calc.py").read_text() == CALC  # a generator never applies

    [req] = srv.requests
    assert req.path == OPENAI_PATH and req.headers["authorization"] == "Bearer sk-test"
    body = req.body
    assert body["model"] == "gpt-4.1-mini" and body["max_tokens"] == 4096
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "<<<<<<< SEARCH" in body["messages"][0]["content"]
    assert "tests/**" in body["messages"][0]["content"]  # the protected paths are stated
    prompt = user_text(body)
    assert TEST_ID in prompt and MESSAGE in prompt
    assert "`calc.py:6` in `add`: `result = a - b`" in prompt  # traceback excerpt
    assert "_pytest" not in prompt  # the runner's own frames are left out
    # the enclosing whole function, with its path and line numbers, most suspicious first
    assert "`calc.py`, lines 4-7 (`add`)" in prompt
    assert 'def add(a, b):\n    """Sum of a and b."""\n    result = a - b\n    return result\n' in prompt
    assert "def test_add():" in prompt  # the failing test's own code
    assert prompt.index("def add(a, b)") < prompt.index("def sub(a, b)")
    assert "UNIQUE-CONVENTION-42" in prompt and "off-by-one errors in calc.py" in prompt


def test_anthropic_good_edit_uses_the_messages_wire_format(context):
    with FakeLLMServer([GOOD]) as srv:
        proposal = anthropic(srv).generate(context)
    assert "+    result = a + b\n" in proposal.candidates[0].diff
    [req] = srv.requests
    assert req.path == ANTHROPIC_PATH
    assert "sk-ant-test" in (req.headers.get("x-api-key"), req.headers.get("authorization", "")[7:])
    assert "anthropic-version" in req.headers
    assert "<<<<<<< SEARCH" in req.body["system"]
    assert [m["role"] for m in req.body["messages"]] == ["user"]
    assert TEST_ID in user_text(req.body) and "UNIQUE-CONVENTION-42" in user_text(req.body)
    assert req.body["max_tokens"] == 4096 and "temperature" not in req.body


# -- unusable answers are observations fed back ----------------------------------------------


def test_malformed_edit_gives_a_note_and_the_next_request_carries_the_reason(context):
    with FakeLLMServer(["Just change the minus to a plus.", NOT_MATCHING, GOOD]) as srv:
        gen = openai(srv)
        first = gen.generate(context)
        second = gen.generate(context)
        third = gen.generate(context)
    assert first.candidates == [] and not first.blocked
    assert first.notes == [first.notes[0]] and first.notes[0].startswith("no edits found")
    assert third.candidates[0].description.startswith("The sign in `add` is wrong")
    assert second.candidates == [] and "'result = a - c'" in second.notes[0]
    assert "calc.py: the SEARCH part of edit block 1" in second.notes[0]
    assert len(third.candidates) == 1 and gen.malformed_in_row == 0
    assert first.usage.calls == second.usage.calls == 1  # unusable answers are counted too

    bodies = srv.bodies()
    msgs = bodies[1]["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[2]["content"] == "Just change the minus to a plus."
    assert first.notes[0] in msgs[3]["content"]
    assert second.notes[0] in user_text(bodies[2])
    assert len(bodies[2]["messages"]) == 6  # the conversation is kept


def test_three_malformed_answers_in_a_row_block(context):
    with FakeLLMServer(["nothing", "still nothing", NOT_MATCHING]) as srv:
        gen = openai(srv)
        results = [gen.generate(context) for _ in range(3)]
    assert [bool(p.blocked) for p in results] == [False, False, True]
    assert "3 unusable answers in a row" in results[2].blocked
    assert "'result = a - c'" in results[2].blocked
    assert results[2].candidates == [] and results[2].usage.calls == 1


def test_edit_to_a_protected_test_file_is_rejected_with_the_reason(context):
    with FakeLLMServer([TO_TEST_FILE, GOOD]) as srv:
        gen = openai(srv)
        rejected = gen.generate(context)
        fixed = gen.generate(context)
    assert rejected.candidates == [] and not rejected.blocked
    assert rejected.notes == [
        "tests/test_calc.py is protected (matches 'tests/**') and may not be edited; "
        + "change the code under test instead"
    ]
    assert rejected.notes[0] in user_text(srv.bodies()[1])
    assert fixed.candidates[0].files == ("calc.py",)


def test_cut_off_answer_says_so(context):
    cut = "calc.py\n<<<<<<< SEARCH\n    result = a - b\n=======\n"
    with FakeLLMServer([Reply(cut, finish="length")]) as srv:
        proposal = openai(srv, max_tokens=50).generate(context)
    assert "(the answer was cut off at max_tokens=50)" in proposal.notes[0]


def test_rejected_patch_reason_goes_into_the_next_request_once(context):
    with FakeLLMServer([GOOD, GOOD, GOOD]) as srv:
        gen = anthropic(srv)
        patch = gen.generate(context).candidates[0]
        verdict = "tests/test_calc.py::test_add failed: AssertionError: assert 4 == 3"
        context.attempts.append(Attempt(patch.digest, patch.description, False, verdict, patch.diff))
        context.iteration = 2
        gen.generate(context)
        context.iteration = 3
        gen.generate(context)
    second, third = srv.bodies()[1], srv.bodies()[2]
    assert verdict in user_text(second) and "rejected" in user_text(second)
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
    assert verdict not in user_text(third)  # shown once, not repeated


def test_accepted_partial_patch_shows_the_new_code_and_what_still_fails(context):
    second_test = "tests/test_calc.py::test_sub"
    with FakeLLMServer([GOOD, GOOD]) as srv:
        gen = openai(srv)
        patch = gen.generate(context).candidates[0]
        (context.root / "calc.py").write_text(CALC.replace("a - b\n    return result", "a + b\n    return result"))
        context.attempts.append(Attempt(patch.digest, patch.description, True, "fixed test_add"))
        context.task.failing = {second_test: TestResult(second_test, "failed", "assert 0 == 1")}
        context.iteration = 2
        gen.generate(context)
    retry = user_text(srv.bodies()[1])
    assert "was accepted and is now part of the code: fixed test_add" in retry
    assert "`tests/test_calc.py::test_sub`: assert 0 == 1" in retry
    assert "The code has changed since you last saw it" in retry and "result = a + b" in retry
    assert "rejected" not in retry and "Fix what still fails" in retry


def test_retry_prompt_with_both_a_malformed_answer_and_a_new_rejection(context):
    from harness.generators.prompt import build_first, build_retry

    counter = TokenCounter("anthropic", "m")
    _, shown = build_first(context, counter, 4000)
    context.attempts.append(Attempt("x1", "swap operands", False, "test_add: 2 != 3"))
    text, shown = build_retry(context, counter, 4000, shown, "no edits found in the answer")
    assert text.startswith("Your previous answer could not be used:\n\nno edits found")
    assert "Earlier, a patch (swap operands) was applied, checked and rejected" in text
    assert "test_add: 2 != 3" in text and "Answer again with SEARCH/REPLACE" in text
    text, _ = build_retry(context, counter, 4000, shown, "")
    assert "test_add: 2 != 3" not in text and "was not accepted" in text


def test_instruction_task_prompt(context):
    from harness.generators.prompt import build_first

    context.task = Task("review_comment", instruction="Rename `result` to `total`.", path="calc.py", line=6)
    context.locations = []
    text, _ = build_first(context, TokenCounter("openai", "gpt-4.1"), 4000)
    assert "At `calc.py`, line 6:\nRename `result` to `total`." in text
    assert "`calc.py`, lines 4-7 (`add`), line 6 (the comment's location)" in text
    assert "## Failing tests" not in text


def test_prior_rejected_attempts_appear_in_the_first_prompt(context):
    context.attempts.append(Attempt("d1", "negate condition at calc.py:6", False, "2 tests failed"))
    with FakeLLMServer([GOOD]) as srv:
        openai(srv).generate(context)
    assert "negate condition at calc.py:6: 2 tests failed" in user_text(srv.bodies()[0])


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


# -- context packing -----------------------------------------------------------------------------


def test_packing_keeps_whole_functions_most_suspicious_first_within_budget(context):
    big = "def big():\n" + "".join(f"    v{i} = {i}\n" for i in range(400)) + "    return 0\n"
    (context.root / "big.py").write_text(big)
    context.locations.append(SuspiciousLocation("big.py", 200, 0.5))
    counter = TokenCounter("anthropic", "m")
    snippets, omitted = pack(context, counter, budget=400)
    assert [(s.path, s.name) for s in snippets] == [
        ("calc.py", "add"),
        ("tests/test_calc.py", "test_add"),
        ("calc.py", "sub"),
    ]
    assert omitted == 1  # big() (score 0.5, before sub) does not fit and is not cut up
    snippets, omitted = pack(context, counter, budget=100_000)
    assert [s.name for s in snippets] == ["add", "test_add", "big", "sub"] and omitted == 0
    assert snippets[2].code == big and (snippets[2].start, snippets[2].end) == (1, 402)


def test_an_excerpt_header_names_the_most_suspicious_lines_and_counts_the_rest(context):
    big = "def big():\n" + "".join(f"    v{i} = {i}\n" for i in range(40)) + "    return 0\n"
    (context.root / "big.py").write_text(big)
    context.locations.extend(SuspiciousLocation("big.py", 2 + i, 0.9 - i / 100) for i in range(30))
    snippets, _ = pack(context, TokenCounter("anthropic", "m"), budget=100_000)
    header = next(s for s in snippets if s.path == "big.py").as_dict()["why"]
    assert header == ("suspicious line 2 (0.90), suspicious line 3 (0.89), suspicious line 4 (0.88), "
                      "suspicious line 5 (0.87), and 26 more suspicious lines")


def test_prompts_leave_out_what_changes_between_runs(context):
    from harness.generators.prompt import stable_text
    from sandbox.worktree import worktree_root

    slot = worktree_root() / "20261122-101010-abcd.slot0"
    text = (f"FileNotFoundError: '/tmp/pytest-of-root/pytest-954/out.sql' in {context.root}/calc.py; "
            f"rejected in {slot}/calc.py")
    assert stable_text(text, context.root) == "FileNotFoundError: '<pytest tmp>/out.sql' in calc.py; rejected in calc.py"
    result = context.task.failing[TEST_ID]
    context.task.failing[TEST_ID] = type(result)(result.test_id, result.outcome,
                                                 f"no such file /tmp/pytest-of-ci/pytest-7/x in {context.root}/calc.py",
                                                 result.frames)
    prompt, _ = build_first(context, TokenCounter("anthropic", "m"), 8000)
    assert "no such file <pytest tmp>/x in calc.py" in prompt and str(context.root) not in prompt


# -- record and replay ------------------------------------------------------------------------------


def _run(gen, context: Context) -> list:
    out = [gen.generate(context)]
    context.attempts.append(Attempt("d", "first try", False, "test_add still fails: 4 != 3"))
    context.iteration = 2
    out.append(gen.generate(context))
    return out


def test_record_then_replay_gives_identical_proposals(context, tmp_path):
    cassette = tmp_path / "run.jsonl"
    with FakeLLMServer(["no edit in this one", GOOD]) as srv:
        live = make_generator(
            "openai:gpt-4.1-mini",
            record=str(cassette),
            env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": srv.openai_url},
            retry=FAST,
        )
        recorded = _run(live, context)
    lines = [json.loads(x) for x in cassette.read_text().splitlines()]
    assert len(lines) == 2 and lines[0]["request"]["provider"] == "openai"
    assert lines[1]["response"]["raw"]["object"] == "chat.completion"

    context.attempts.clear()
    context.iteration = 1
    replayed = _run(make_generator(f"replay:{cassette}", env={}, retry=FAST), context)
    assert replayed == recorded  # candidates, notes, usage (latency as recorded)
    assert replayed[1].candidates[0].diff == recorded[1].candidates[0].diff


def test_replay_of_a_changed_request_is_a_clear_error(context, tmp_path):
    cassette = tmp_path / "run.jsonl"
    with FakeLLMServer([GOOD]) as srv:
        live = make_generator(
            "anthropic:claude-haiku-4-5",
            record=str(cassette),
            env={"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": srv.url},
        )
        live.generate(context)
    context.conventions = "A different AGENTS.md now."
    gen = make_generator("anthropic:claude-haiku-4-5", replay=str(cassette), env={})
    with pytest.raises(GeneratorError) as err:
        gen.generate(context)
    msg = str(err.value)
    assert f"cassette {cassette}, exchange 1: the request differs from the recording at messages[0].content" in msg
    assert "\n-Run tests with `pytest -q`." in msg and "\n+A different AGENTS.md now." in msg


def test_replay_past_the_end_of_the_cassette_is_an_error(context, tmp_path):
    cassette = tmp_path / "run.jsonl"
    with FakeLLMServer([GOOD]) as srv:
        make_generator(
            "openai:gpt-4.1-mini",
            record=str(cassette),
            env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": srv.openai_url},
        ).generate(context)
    gen = make_generator("openai:gpt-4.1-mini", replay=str(cassette), env={})
    gen.generate(context)
    with pytest.raises(GeneratorError, match="call #2 but only 1 were recorded"):
        gen.generate(context)


# -- registry ---------------------------------------------------------------------------------------


def test_make_generator_specs_and_errors(tmp_path):
    env = {"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "a"}
    gen = make_generator("openai:gpt-4.1", env=env, max_tokens=123)
    assert isinstance(gen, OpenAIGenerator) and gen.name == "openai:gpt-4.1" and gen.max_tokens == 123
    assert gen.token_field == "max_completion_tokens"  # api.openai.com
    assert make_generator("anthropic", env=env).name == "anthropic:claude-sonnet-4-6"
    local = make_generator("openai:llama3", base_url="http://127.0.0.1:9/v1", env={})
    assert local.token_field == "max_tokens"  # compatible servers need no key
    with pytest.raises(ValueError, match="unknown generator 'gemini'.*valid: templates, openai:MODEL"):
        make_generator("gemini:pro", env=env)
    with pytest.raises(ValueError, match="templates"):
        make_generator("templates", env=env)
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY is not set"):
        make_generator("anthropic:claude-haiku-4-5", env={})
    with pytest.raises(GeneratorError, match="not found; record one with --record"):
        make_generator(f"replay:{tmp_path / 'missing.jsonl'}", env={})


def test_default_generator_spec():
    assert default_generator_spec({}) == "templates"
    assert default_generator_spec({"ANTHROPIC_API_KEY": "a"}) == "anthropic:claude-sonnet-4-6"
    assert default_generator_spec({"OPENAI_API_KEY": "k"}) == "openai:gpt-5-mini"


def test_patch_description_without_an_explanation(context):
    bare = "calc.py\n<<<<<<< SEARCH\n    result = a - b\n=======\n    result = a + b\n>>>>>>> REPLACE\n"
    gen = OpenAIGenerator("m", api_key="k", base_url="http://127.0.0.1:9/v1")
    assert gen.to_patch(bare, context).description == "openai:m edit to calc.py"


def test_empty_answer_is_unusable_and_the_history_stays_valid(context):
    with FakeLLMServer(["", GOOD]) as srv:
        gen = anthropic(srv)
        empty = gen.generate(context)
        good = gen.generate(context)
    assert empty.notes[0].startswith("no edits found") and len(good.candidates) == 1
    assert srv.bodies()[1]["messages"][1] == {"role": "assistant", "content": "(empty answer)"}


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
