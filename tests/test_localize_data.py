"""Fault localization of a wrong module-level pattern: the line that reads it is what the
failing test points at (:mod:`harness.core.data_flow`). Real pytest with coverage, real
localization; the pattern lives in another module, imported by name (unidiff's and
docstring-parser's shape: ``RE_X = re.compile(...)`` in ``constants.py``)."""

from __future__ import annotations

import textwrap

from harness.core.config import DEFAULT_PROTECTED
from harness.core.data_flow import DATA_WEIGHT, data_scores
from harness.core.localize import _parse_path, _statement_at, localize
from harness.evaluators.pytest_runner import PytestEvaluator
from tests.conftest import PYTHON

FILES = {
    "pkg/__init__.py": "",
    "pkg/constants.py": """
        import re

        LIMIT = 10
        # a default value: a word, dashes, dots
        DEFAULT_RE = re.compile(
            r"[Dd]efault(?: is | = |: )(?P<value>[a-z]+)"
        )
        UNUSED = re.compile(r"x")
    """,
    "pkg/parse.py": """
        from pkg.constants import DEFAULT_RE, LIMIT
        from pkg import constants


        def default(text):
            match = DEFAULT_RE.search(text)
            if match is None:
                return None
            return match.group("value")


        def clip(text):
            return text[:LIMIT]


        def words(text):
            return [w for w in text.split() if w]
    """,
    "tests/test_parse.py": """
        import pytest

        from pkg.parse import clip, default, words


        def test_word():
            assert default("Default is abc") == "abc"


        def test_none():
            assert default("nothing here") is None


        def test_number():
            assert default("default: 42") == "42"


        def test_clip():
            assert clip("abc") == "abc"


        @pytest.mark.parametrize("n", range(20))
        def test_words(n):
            assert words("a " * n) == ["a"] * n


        def test_words_empty():
            assert words("") == []
    """,
}


def test_a_wrong_pattern_another_module_defines_ranks_with_the_line_that_reads_it(make_repo):
    root = make_repo({p: textwrap.dedent(t) for p, t in FILES.items()})
    base = PytestEvaluator(PYTHON).run(root, coverage=True)
    assert [t for t, r in base.results.items() if not r.ok] == ["tests/test_parse.py::test_number"]
    ranked = localize(root, base.results, base.coverage, DEFAULT_PROTECTED)
    scores = {(loc.path, loc.line): loc.score for loc in ranked}
    src = (root / "pkg/constants.py").read_text().splitlines()
    pattern = src.index("DEFAULT_RE = re.compile(") + 1
    reader = ("pkg/parse.py", (root / "pkg/parse.py").read_text().splitlines().index(
        "    match = DEFAULT_RE.search(text)") + 1)
    # run at import: by itself "run by every test", sqrt(1/25); now half of its reader's score
    assert scores[("pkg/constants.py", pattern)] == DATA_WEIGHT * scores[reader] > 0.2
    order = [(loc.path, loc.line) for loc in ranked]
    assert order.index(("pkg/constants.py", pattern)) < 6
    # a constant nothing suspicious reads keeps its import-time score
    unused = src.index('UNUSED = re.compile(r"x")') + 1
    limit = src.index("LIMIT = 10") + 1
    assert scores[("pkg/constants.py", unused)] == scores[("pkg/constants.py", limit)] == 0.2


def test_reads_by_module_attribute_and_no_link_is_followed(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "constants.py").write_text("SIZE = 3\nOTHER = 4\n")
    (tmp_path / "pkg" / "use.py").write_text("from pkg import constants\nfrom . import linked\n\n\n"
                                               "def f(x):\n    return x * constants.SIZE + linked.N\n")
    (tmp_path / "elsewhere.py").write_text("N = 1\n")
    (tmp_path / "pkg" / "linked.py").symlink_to(tmp_path / "elsewhere.py")
    found = data_scores(tmp_path, {("pkg/use.py", 6): 0.8}, _parse_path, _statement_at)
    assert found == {("pkg/constants.py", 1): DATA_WEIGHT * 0.8}


def test_a_binding_read_by_a_binding_gets_a_share_of_its_share(tmp_path):
    # h11's shape: the reader matches a compiled pattern; the pattern's text is a grammar
    # string of another module
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "grammar.py").write_text('OWS = r"[ \\t]*"\nHEADER = r"(?P<size>[0-9]+)\\r\\n"\n')
    (tmp_path / "pkg" / "read.py").write_text("import re\nfrom .grammar import HEADER\n\n"
                                              "HEADER_RE = re.compile(HEADER)\n\n\n"
                                              "def size(line):\n    return int(HEADER_RE.match(line)['size'])\n")
    found = data_scores(tmp_path, {("pkg/read.py", 8): 0.8}, _parse_path, _statement_at)
    assert found == {("pkg/read.py", 4): DATA_WEIGHT * 0.8, ("pkg/grammar.py", 2): DATA_WEIGHT ** 2 * 0.8}
