"""LLM generators against a local server speaking the real OpenAI and Anthropic wire formats.

The official SDKs are pointed at :mod:`evals.model_server` by ``base_url``; nothing
leaves 127.0.0.1.
"""

from __future__ import annotations

import json

import pytest

from harness.evaluators.verdict import TestResult
from harness.core.context import Attempt, Context, SuspiciousLocation
from harness.core.protocols import Generator
from harness.core.protocols import GeneratorError
from harness.generators.openai_gen import OpenAIGenerator
from harness.generators.prompt import build_first
from harness.generators.snippets import pack
from harness.generators.registry import default_generator_spec, make_generator
from harness.generators.tokens import TokenCounter
from harness.core.task import Task
from evals.model_server import ANTHROPIC_PATH, OPENAI_PATH, FakeLLMServer, Reply
from tests.llm_support import (
    CALC, FAST, GOOD, MESSAGE, NOT_MATCHING, TEST_ID, TO_TEST_FILE, anthropic, openai, user_text,
)
from tests.llm_support import context, no_real_provider_env  # noqa: F401 (fixtures)


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
