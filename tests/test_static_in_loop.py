"""Issue 4 in the loop: lint and type regressions rejected, pre-existing diagnostics
tolerated, protected configuration, no secrets and no network for the tests."""

from __future__ import annotations

import time

from harness.evaluators.lint import RuffEvaluator
from harness.evaluators.pytest_runner import PytestEvaluator, TimeoutPolicy
from harness.evaluators.types import TypeCheckEvaluator
from harness.core.config import RunConfig
from harness.work.fix import fix
from harness.generators.templates import TemplateGenerator
from loops.spec import Limits
from harness.core.validate import Baseline, Gate, Validator
from sandbox.patch import Patch
from sandbox.worktree import Worktree, open_repo
from tests.conftest import PYTHON, snapshot

SRC = '''import os


def clamp(x: int, lo: int, hi: int) -> int:
    if x < lo:
        return lo
    if x > hi:
        return x
    return x


BROKEN: int = "pre-existing type error"
'''
FILES = {
    "pyproject.toml": "[tool.ruff]\nline-length = 100\n\n[tool.ruff.lint]\nselect = [\"F\"]\n\n[tool.mypy]\nfiles = [\"mathx.py\"]\n",
    "mathx.py": SRC,  # `import os` is a pre-existing F401; BROKEN a pre-existing type error
    "test_mathx.py": "from mathx import clamp\n\n\ndef test_above():\n    assert clamp(9, 0, 5) == 5\n\n\ndef test_in():\n    assert clamp(2, 0, 5) == 2\n",
}
GOOD = SRC.replace("    if x > hi:\n        return x", "    if x > hi:\n        return hi")


def validator_for(root, tmp_path, checks):
    repo = open_repo(root)
    wt = Worktree.create(repo, "v", None)
    ev = PytestEvaluator(PYTHON, timeouts=TimeoutPolicy(min_seconds=2.0))
    base = ev.run(wt.path, coverage=True)
    static = []
    for c in checks:
        if c == "lint":
            lint = RuffEvaluator()
            static.append(Gate(lint, lint.run(wt.path)))
        else:
            types = TypeCheckEvaluator(tmp_path / "mypy-cache", python=PYTHON)
            static.append(Gate(types, types.run(wt.path)))
    assert all(not s.baseline.error and s.baseline.results for s in static)  # pre-existing diagnostics
    return Validator(ev, [wt], Baseline(wt.path, base.results, base.collected, base.coverage, base.duration),
                     ("test_*.py", "conftest.py", "pyproject.toml"), 40, ev.timeouts, static), wt


def first(validator, patch):
    seen = []
    validator.first_accepted([patch], time.monotonic() + 120, seen.append)
    return seen[0]


def test_lint_regression_rejected_and_preexisting_lint_tolerated(make_repo, tmp_path):
    root = make_repo(FILES)
    validator, wt = validator_for(root, tmp_path, ["lint"])
    noisy = GOOD.replace("        return hi", "        unused = 1\n        return hi")
    out = first(validator, Patch.from_texts({"mathx.py": (SRC, noisy)}, "noisy"))
    assert not out.accepted and out.stage == "lint" and "F841" in out.reason
    out = first(validator, Patch.from_texts({"mathx.py": (SRC, GOOD)}, "good"))
    assert out.accepted, out.reason  # the pre-existing F401 does not block it
    validator.close()
    wt.remove()


def test_type_regression_rejected_and_preexisting_type_errors_tolerated(make_repo, tmp_path):
    root = make_repo(FILES)
    validator, wt = validator_for(root, tmp_path, ["types"])
    bad = GOOD.replace("        return hi", "        label: str = hi\n        return hi")
    out = first(validator, Patch.from_texts({"mathx.py": (SRC, bad)}, "bad types"))
    assert not out.accepted and out.stage == "types" and "assignment" in out.reason
    out = first(validator, Patch.from_texts({"mathx.py": (SRC, GOOD)}, "good"))
    assert out.accepted, out.reason
    validator.close()
    wt.remove()


def test_editing_conftest_or_test_config_is_rejected(make_repo, tmp_path):
    root = make_repo({**FILES, "conftest.py": "import pytest\n"})
    validator, wt = validator_for(root, tmp_path, [])
    for path, old in (("conftest.py", "import pytest\n"), ("pyproject.toml", FILES["pyproject.toml"])):
        out = first(validator, Patch.from_texts({path: (old, old + "# changed\n")}, "cheat"))
        assert not out.accepted and out.stage == "policy" and path in out.reason
    validator.close()
    wt.remove()


def test_fix_end_to_end_with_lint_and_types_configured(make_repo):
    root = make_repo(FILES)
    before = snapshot(root)
    res = fix(root, TemplateGenerator(), RunConfig(python=PYTHON, limits=Limits(20, 300, 8)))
    assert res.state.status == "fixed", res.state.stop_detail
    assert "return hi" in res.patch
    assert snapshot(root) == before


def test_tests_see_no_api_key_and_no_network(make_repo, monkeypatch):
    import socket

    from sandbox.process import network_isolation

    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    host = socket.socket()  # a listener on the host's loopback: only loopback is ever dialed
    host.bind(("127.0.0.1", 0))
    host.listen()
    port = host.getsockname()[1]
    root = make_repo({
        "env_check.py": "def ok():\n    return 1\n",
        "test_env.py": (
            "import os, socket\n\n"
            "def test_no_key():\n    assert 'OPENAI_API_KEY' not in os.environ\n\n"
            "def test_no_network():\n"
            f"    try:\n        socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "    except OSError:\n        return\n"
            "    raise AssertionError('the host network is reachable')\n"
        ),
    })
    try:
        res = fix(root, TemplateGenerator(), RunConfig(python=PYTHON))
    finally:
        host.close()
    if res.sandbox == "strong" or network_isolation() is not None:
        assert res.state.status == "nothing_to_fix", res.state.stop_detail
    else:  # no namespaces here: the key is still gone, and the user is told about the network
        assert "test_env.py::test_no_key" not in res.state.baseline_failing
        assert any("network isolation is not available" in m for m in res.messages)
