"""``loopwright fix`` end to end with model generators: the official SDKs talk HTTP to a
local server speaking the real OpenAI / Anthropic wire formats. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from harness.cli.common import build_generator as cli_generator
from harness.core.config import RunConfig
from harness.work.fix import fix
from harness.generators.llm import RetryPolicy
from harness.generators.registry import make_generator
from loops.spec import Limits
from loops.spec import builtin_spec
from tests.conftest import PYTHON, git, run_dir, snapshot
from evals.model_server import Error, FakeLLMServer, Reply
from tests.test_fix import CLAMP

FAST_RETRY = RetryPolicy(attempts=3, max_wait=5.0, initial=0.01, max_backoff=0.05, retry_after_cap=1.0)


def edit(search: str, replace: str, path: str = "mathx/__init__.py") -> str:
    return (f"Here is the fix.\n\n{path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n"
            ">>>>>>> REPLACE\n")


GOOD = edit("    if x >= hi:\n        return x", "    if x >= hi:\n        return hi")
WRONG = edit("    if x >= hi:\n        return x", "    if x >= hi:\n        return lo")


def run(root, srv, provider="openai", limits=None, **gen_kw):
    url = srv.openai_url if provider == "openai" else srv.anthropic_url
    model = "gpt-4.1-mini" if provider == "openai" else "claude-sonnet-4-6"
    gen = make_generator(f"{provider}:{model}", base_url=url, retry=FAST_RETRY,
                         env={"OPENAI_API_KEY": "sk-test", "ANTHROPIC_API_KEY": "sk-ant-test"}, **gen_kw)
    limits = limits or Limits(max_iterations=6, max_wall_seconds=240, no_progress=6)
    return fix(root, gen, RunConfig(python=PYTHON, limits=limits))


def user_text(body: dict) -> str:
    return "\n".join(m["content"] if isinstance(m["content"], str) else json.dumps(m["content"])
                     for m in body["messages"] if m["role"] == "user")


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_fixed_in_one_turn(make_repo, provider):
    root = make_repo(CLAMP)
    before = snapshot(root)
    with FakeLLMServer([GOOD]) as srv:
        res = run(root, srv, provider)
    assert res.state.status == "fixed" and res.exit_code == 0
    assert "+        return hi" in res.patch
    assert len(srv.requests) == 1
    prompt = user_text(srv.requests[0].body)
    assert "tests/test_clamp.py::test_above" in prompt and "def clamp" in prompt
    assert res.state.spent.model_calls == 1 and res.state.spent.input_tokens > 0
    assert res.state.spent.cost_usd is not None and res.state.spent.cost_usd > 0
    assert snapshot(root) == before


def test_fixed_on_the_second_turn_after_a_rejected_patch(make_repo):
    root = make_repo(CLAMP)
    with FakeLLMServer([WRONG, GOOD]) as srv:
        res = run(root, srv)
    assert res.state.status == "fixed" and res.state.candidates_tried == 2
    second = user_text(srv.requests[1].body)
    assert "fixes none of the 1 failing tests" in second
    assert "test_above" in second


def test_malformed_edit_then_a_good_one(make_repo):
    root = make_repo(CLAMP)
    with FakeLLMServer(["I would change the comparison somewhere.", GOOD]) as srv:
        res = run(root, srv)
    assert res.state.status == "fixed" and len(srv.requests) == 2
    assert res.state.iteration == 2 and res.state.candidates_tried == 1
    assert "SEARCH" in user_text(srv.requests[1].body)  # the reason names the missing format


def test_an_edit_to_a_test_file_is_rejected(make_repo):
    root = make_repo(CLAMP)
    cheat = edit("def test_above():\n    assert clamp(9, 0, 5) == 5", "def test_above():\n    assert True",
                 path="tests/test_clamp.py")
    with FakeLLMServer([cheat, GOOD]) as srv:
        res = run(root, srv)
    assert res.state.status == "fixed"
    assert "protected" in user_text(srv.requests[1].body)
    assert "tests/" not in res.patch


def test_429_with_retry_after_then_success(make_repo):
    root = make_repo(CLAMP)
    with FakeLLMServer([Error(429, "slow down", headers={"retry-after": "1"}), GOOD]) as srv:
        res = run(root, srv)
    assert res.state.status == "fixed" and len(srv.requests) == 2
    assert srv.requests[1].at - srv.requests[0].at >= 0.9


def test_500s_until_the_retry_budget_ends_stop_clearly(make_repo):
    root = make_repo(CLAMP)
    with FakeLLMServer([Error(500, "boom")] * 5) as srv:
        res = run(root, srv)
    assert res.exit_code == 1 and res.state.stop_reason == "generator_error"
    assert "gave up after 3 attempts" in res.state.stop_detail
    assert len(srv.requests) == 3


def test_401_stops_at_once(make_repo):
    root = make_repo(CLAMP)
    with FakeLLMServer([Error(401, "Incorrect API key provided")]) as srv:
        res = run(root, srv)
    assert res.state.stop_reason == "generator_error" and "OPENAI_API_KEY" in res.state.stop_detail
    assert len(srv.requests) == 1


def test_cost_budget_stops_before_the_next_call(make_repo):
    root = make_repo(CLAMP)
    # the first answer is expensive ($0.048 of input at $0.40/M): the next call can't be afforded
    with FakeLLMServer([Reply(WRONG, input_tokens=120_000, output_tokens=10), GOOD]) as srv:
        res = run(root, srv, limits=Limits(max_iterations=6, max_wall_seconds=240, no_progress=6,
                                               max_cost_usd=0.05))
    assert res.state.stop_reason == "max_cost_usd" and len(srv.requests) == 1
    assert res.state.spent.cost_usd == pytest.approx(0.048, abs=0.001)
    assert "would exceed" in res.state.stop_detail


def test_templates_give_up_then_the_model_fixes_it(make_repo):
    root = make_repo({
        "names.py": "def greet(name):\n    return \"Hello, \" + name\n",
        "test_names.py": "from names import greet\n\ndef test_greet():\n    assert greet(\"ada\") == \"Bonjour, Ada!\"\n",
    })
    fix_ = edit("    return \"Hello, \" + name", "    return \"Bonjour, \" + name.capitalize() + \"!\"", path="names.py")
    with FakeLLMServer([fix_]) as srv:
        gen = cli_generator("templates,openai:gpt-4.1-mini", builtin_spec("fix-failing-tests"),
                            base_url=srv.openai_url)
        res = fix(root, gen, RunConfig(python=PYTHON, limits=Limits(20, 240, 8)))
    assert res.state.status == "fixed"
    assert res.state.candidates_tried > 1  # the templates tried first
    assert res.state.accepted[0].meta.get("generator", "").startswith("openai") or \
        "openai" in res.state.history[-1].generator
    assert len(srv.requests) == 1


def test_record_then_replay_gives_the_same_patch_and_trajectory(make_repo, tmp_path):
    cassette = tmp_path / "run.jsonl"
    files = CLAMP
    a = make_repo(files)
    with FakeLLMServer([WRONG, GOOD]) as srv:
        rec = run(a, srv, record=str(cassette))
    b = make_repo(files)
    gen = make_generator("openai:gpt-4.1-mini", replay=str(cassette), env={})
    rep = fix(b, gen, RunConfig(python=PYTHON, limits=Limits(6, 240, 6)))
    assert rep.state.status == rec.state.status == "fixed"
    assert rep.patch == rec.patch

    def steps(root, state):
        lines = (run_dir(root, state.run_id) / "trajectory.jsonl").read_text().splitlines()
        return [(s["action"], s.get("patch", {}).get("digest"), s.get("verdict", {}).get("reason"))
                for s in map(json.loads, lines)]

    assert steps(a, rec.state) == steps(b, rep.state)
    assert git(b, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
