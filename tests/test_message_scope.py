"""``message_scope.scope_edits`` (through ``message_ops.message_mutants``): a standard module
used but not imported, a sibling module's name, ``global``/``nonlocal`` for a name assigned in a
function; messages as Python prints them, and end to end through ``loopwright fix``."""

from __future__ import annotations

from pathlib import Path

from harness.core.context import Context, SuspiciousLocation
from harness.core.task import Task
from harness.evaluators.verdict import Frame, TestResult
from harness.generators.message_ops import message_mutants
from tests.conftest import fix_offline
from tests.mutant_checks import src

TEXTS = src('''
    """Text helpers."""
    from __future__ import annotations

    import os

    CALLS = 0


    def words(text):
        return re.split(r"\\s+", text.strip())


    def counted(text):
        CALLS += 1
        return text


    def outer():
        total = 0

        def add(n):
            total += n
            return total
        return add


    def maybe(flag):
        if flag:
            value = 1
        return value


    def slug(text):
        return normalize(text)
''')
HELPERS = "def normalize(text):\n    return text.lower()\n"


def offered(tmp_path: Path, message: str, line: int) -> list[str]:
    (tmp_path / "pkg").mkdir(exist_ok=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "texts.py").write_text(TEXTS)
    (tmp_path / "pkg" / "helpers.py").write_text(HELPERS)
    result = TestResult("tests/test_texts.py::test_it", "failed", message,
                        (Frame("tests/test_texts.py", 3), Frame("pkg/texts.py", line)))
    context = Context(tmp_path, Task("failing_tests", {"tests/test_texts.py::test_it": result}),
                      [SuspiciousLocation("pkg/texts.py", line, 0.5)], ("tests/*",))
    got = message_mutants(context, lambda rel: (tmp_path / rel).read_text() if (tmp_path / rel).is_file() else None,
                          lambda d: [f"{d}/{p.name}" for p in (tmp_path / d).glob("*.py")])
    old = TEXTS.splitlines()
    return [next(line for line in m.new_source.splitlines() if line not in old).strip()
            for _, m in got if m.operator in ("import_missing", "declare_name")]


def test_a_standard_module_used_but_not_imported(tmp_path):
    assert offered(tmp_path, "NameError: name 're' is not defined", 10) == ["import re"]


def test_a_name_a_sibling_module_defines(tmp_path):
    assert offered(tmp_path, "NameError: name 'normalize' is not defined", 34) == ["from .helpers import normalize"]


def test_global_nonlocal_or_a_first_value(tmp_path):
    unbound = "UnboundLocalError: cannot access local variable '{}' where it is not associated with a value"
    assert offered(tmp_path, unbound.format("CALLS"), 14) == ["global CALLS"]
    assert offered(tmp_path, "UnboundLocalError: local variable 'total' referenced before assignment", 22) == [
        "nonlocal total"]
    assert offered(tmp_path, unbound.format("value"), 30) == ["value = None"]


def test_nothing_for_another_error(tmp_path):
    assert offered(tmp_path, "NameError: name 'nowhere' is not defined", 10) == []
    assert offered(tmp_path, "AssertionError: assert 1 == 2", 10) == []


STATS = src('''
    """Counting words."""
    from collections import Counter


    def top_words(text, n=3):
        """The ``n`` most common words of ``text``, lower-cased, punctuation dropped."""
        words = re.findall(r"[a-z']+", text.lower())
        return [word for word, _ in Counter(words).most_common(n)]


    def word_count(text):
        """How many words ``text`` has."""
        return len(text.split())
''')
STATS_TESTS = src('''
    from stats import top_words, word_count


    def test_count():
        assert word_count("a b  c") == 3


    def test_top():
        assert top_words("The cat and the hat. The end!", 1) == ["the"]
''')


def test_loopwright_fix_adds_the_missing_import(make_repo):
    out, _, _ = fix_offline(make_repo, {"stats.py": STATS, "test_stats.py": STATS_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "from collections import Counter\n+import re\n" in out["patch"], out["patch"]
