"""``sink_prelude``: a value handed to a parser without the normalization another path into
the same parser gives it; unit checks and a fix end to end on a two-module bug."""

from __future__ import annotations

from harness.generators.mutations import mutants_at
from tests.conftest import fix_offline, snapshot
from tests.mutant_checks import src

STATE = src('''
    class State:
        def __init__(self):
            self.lines = []

        def process(self, src):
            self.lines = src.split("\\n")

        def child_state(self, src):
            child = State()
            child.process(src)
            return child
''')
DOC = src('''
    from .state import State


    def parse(s):
        s = s.replace("\\r\\n", "\\n")
        s = s.strip(" ")
        state = State()
        state.process(s)
        return state.lines


    def include(parent, content):
        child = parent.child_state(content)
        return child.lines
''')
DOC_TESTS = src('''
    from doc.parse import include, parse
    from doc.state import State


    def test_parse():
        assert parse("a\\r\\nb") == ["a", "b"]
        assert parse("x\\n") == ["x", ""]


    def test_include_plain():
        assert include(State(), "c\\nd") == ["c", "d"]


    def test_include_crlf():
        assert include(State(), "a\\r\\nb") == ["a", "b"]
''')


def _read(files: dict[str, str]):
    return files.get


def test_the_other_paths_rebinding_is_copied_before_the_call_with_the_name_renamed():
    files = {"doc/state.py": STATE, "doc/parse.py": DOC}
    line = DOC.splitlines().index("    child = parent.child_state(content)") + 1
    got = [m for m in mutants_at("doc/parse.py", DOC, [line], read=_read(files)) if m.operator == "sink_prelude"]
    assert [m.replacement for m in got] == [
        '    content = content.replace("\\r\\n", "\\n")\n    content = content.strip(" ")\n',
        '    content = content.replace("\\r\\n", "\\n")\n',
    ]
    # without the module that defines child_state, `process` is no sink of it: no donor
    assert not [m for m in mutants_at("doc/parse.py", DOC, [line], read=_read({"doc/parse.py": DOC}))
                if m.operator == "sink_prelude"]


def test_loopwright_fix_normalizes_the_second_path_into_the_parser(make_repo):
    out, root, before = fix_offline(make_repo, {"doc/__init__.py": "", "doc/state.py": STATE, "doc/parse.py": DOC,
                                                "tests/test_doc.py": DOC_TESTS})
    assert out["status"] == "fixed", out
    assert '+    content = content.replace("\\r\\n", "\\n")' in out["patch"], out["patch"]
    assert snapshot(root) == before
