"""Shared pieces of the LLM generator tests: a failing-test context, the two SDK-backed
generators pointed at :class:`evals.model_server.FakeLLMServer`, and a guard that keeps a
developer's real keys and endpoints out of the tests (``clear_provider_env``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.model_server import FakeLLMServer
from harness.evaluators.verdict import Frame, TestResult
from harness.core.context import Context, SuspiciousLocation
from harness.core.task import Task
from harness.generators.anthropic_gen import AnthropicGenerator
from harness.generators.openai_gen import OpenAIGenerator
from harness.generators.retrying import RetryPolicy

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


def clear_provider_env(monkeypatch) -> None:
    """A developer's real keys or endpoints must never be used by these tests."""
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


def make_context(tmp_path: Path) -> Context:
    """A failing ``test_add`` of a two-function ``calc.py`` in ``tmp_path``, localized to line 6."""
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


# The fixtures of the model tests: a test module takes them by importing these names.
@pytest.fixture(autouse=True)
def no_real_provider_env(monkeypatch):
    """Autouse where imported: a developer's real keys or endpoints are never seen."""
    clear_provider_env(monkeypatch)


@pytest.fixture
def context(tmp_path) -> Context:
    """:func:`make_context` in the test's ``tmp_path``."""
    return make_context(tmp_path)
