"""A check that misses one case of a set (issue 21, ``harness.generators.case_ops``): the check
repeated for the member the failing test names, joined by ``or`` (``and`` for a negative
check); on bugs written for it, the search's order, and one end to end through
``loopwright fix``."""

from __future__ import annotations

from pathlib import Path

from harness.core.context import Context, SuspiciousLocation
from harness.core.task import Task
from harness.evaluators.verdict import Frame, TestResult
from harness.generators.case_ops import case_edits, case_mutants, members_named
from harness.generators.templates import TemplateGenerator
from tests.conftest import fix_offline, snapshot
from tests.mutant_checks import src

DESCRIPTORS = src('''
    def is_data_descriptor(value):
        """True when the type of ``value`` defines ``__get__`` and a way to set or delete."""
        kind = type(value)
        return hasattr(kind, '__get__') and hasattr(kind, '__set__')


    def lookup(obj, name):
        """The attribute ``name`` of ``obj`` as Python finds it: a data descriptor of the class
        wins over the instance's dict, which wins over anything else of the class."""
        found = type(obj).__dict__.get(name)
        if found is not None and is_data_descriptor(found):
            return found.__get__(obj, type(obj))
        if name in obj.__dict__:
            return obj.__dict__[name]
        if found is not None and hasattr(type(found), '__get__'):
            return found.__get__(obj, type(obj))
        return found
''')
DESCRIPTOR_TESTS = src('''
    from descriptors import is_data_descriptor, lookup


    class Getter:
        def __get__(self, obj, owner):
            return 'from descriptor'


    def test_a_plain_getter_is_not_a_data_descriptor():
        assert not is_data_descriptor(Getter())


    def test_a_setter_makes_a_data_descriptor():
        class Setter(Getter):
            def __set__(self, obj, value):
                pass

        assert is_data_descriptor(Setter())


    def test_the_instance_dict_wins_over_a_plain_getter():
        class Thing:
            x = Getter()

        thing = Thing()
        thing.__dict__['x'] = 'from dict'
        assert lookup(thing, 'x') == 'from dict'


    def test_a_deleter_makes_a_data_descriptor_that_wins():
        class Deleter(Getter):
            def __delete__(self, obj):
                pass

        class Thing:
            x = Deleter()

        thing = Thing()
        thing.__dict__['x'] = 'from dict'
        assert lookup(thing, 'x') == 'from descriptor'
''')
TEST_ID = "test_descriptors.py::test_a_deleter_makes_a_data_descriptor_that_wins"
FIXED = "return hasattr(kind, '__get__') and (hasattr(kind, '__set__') or hasattr(kind, '__delete__'))"


def _failing(line: int = 40) -> dict:
    return {TEST_ID: TestResult(TEST_ID, "failed", "AssertionError: assert 'from dict' == 'from descriptor'",
                                (Frame("test_descriptors.py", line, TEST_ID.split("::")[1]),
                                 Frame("descriptors.py", 11, "lookup")))}


def _repo(tmp_path: Path, code: str = DESCRIPTORS, tests: str = DESCRIPTOR_TESTS) -> Path:
    (tmp_path / "descriptors.py").write_text(code)
    (tmp_path / "test_descriptors.py").write_text(tests)
    return tmp_path


def _run(source: str, tests: str = DESCRIPTOR_TESTS) -> list[str]:
    """The names of ``tests``' test functions that fail against module text ``source``."""
    module: dict = {}
    exec(compile(source, "descriptors.py", "exec"), module)  # noqa: S102 - our own bug, written above
    space = {**module, "__name__": "test_descriptors"}
    exec(compile(tests.replace("from descriptors import is_data_descriptor, lookup\n", ""), "t.py", "exec"), space)
    failed = []
    for name, fn in list(space.items()):
        if name.startswith("test_"):
            try:
                fn()
            except AssertionError:
                failed.append(name)
    return failed


def test_the_members_are_what_the_failing_test_names_nearest_its_failing_line_first(tmp_path):
    # a method of a class the test defines; not its data strings ('x', 'from dict'), not an attribute it
    # only reads (`thing.__dict__[...]`), not the test function's own name
    assert members_named(_repo(tmp_path), _failing()) == ("__delete__",)
    more = DESCRIPTOR_TESTS.replace(
        "    class Deleter(Getter):", "    del Getter.__set__\n    Getter.__set_name__ = None\n    class Deleter(Getter):")
    more = more.replace("thing.__dict__['x'] = 'from dict'\n    assert lookup(thing, 'x') == 'from descriptor'",
                        "thing.__dict__['x'] = 'from dict'\n    assert lookup(thing, '__x__') == 'from descriptor'")
    # nearest the failing line first: a dunder string on it, then line by line back (the methods of a
    # class defined, an attribute assigned, one deleted)
    assert members_named(_repo(tmp_path, tests=more), _failing(42)) == ("__x__", "__delete__", "__set_name__",
                                                                         "__set__")


def test_a_check_that_misses_the_member_the_test_names_gets_it_with_or(tmp_path):
    assert _run(DESCRIPTORS) == ["test_a_deleter_makes_a_data_descriptor_that_wins"]  # the bug
    members = members_named(_repo(tmp_path), _failing())
    got = case_mutants("descriptors.py", DESCRIPTORS, members, {4, 11})
    fix = [m for m in got if FIXED in m.new_source]
    assert fix and fix[0].operator == "case_disjunct" and fix[0].line == 4, [m.description for m in got]
    assert _run(fix[0].new_source) == []  # the candidate fixes the bug and keeps the other tests passing
    # `__get__` is written in the condition already; `x` is not a dunder: neither is offered
    assert not any("'__get__')" in m.replacement.split(" or ")[-1] or "'x'" in m.replacement for m in got)
    assert all(m.new_source != DESCRIPTORS for m in got)


def test_a_negative_check_gets_the_member_with_and():
    code = src('''
        def reader(stream):
            if not hasattr(stream, 'read'):
                raise TypeError('not a stream')
            return stream


        def view(mapping, method):
            if method != 'keys':
                return None
            return getattr(mapping, method)()
    ''')
    got = case_mutants("streams.py", code, ("readinto", "READ", "__iter__", "values"), {2, 8})
    # each member of the shape at each check, the tests' nearest member first; READ, __iter__: other shapes
    assert [(m.operator, m.line, m.replacement.rsplit("'", 2)[-2]) for m in got] == [
        ("case_conjunct", 2, "readinto"), ("case_conjunct", 8, "readinto"),
        ("case_conjunct", 2, "values"), ("case_conjunct", 8, "values")]
    assert "    if not hasattr(stream, 'read') and not hasattr(stream, 'readinto'):\n" in got[0].new_source
    assert "    if method != 'keys' and method != 'values':\n" in got[3].new_source
    space: dict = {}
    exec(got[0].new_source, space)  # noqa: S102 - our own code, written above

    class Buffer:
        def readinto(self, b):
            return 0

    assert isinstance(space["reader"](Buffer()), Buffer)


def test_a_member_the_module_or_its_package_writes_is_no_missing_case(tmp_path):
    handled = DESCRIPTORS + "\n\ndef deletable(value):\n    return hasattr(type(value), '__delete__')\n"
    assert case_mutants("descriptors.py", handled, ("__delete__",), {4}) == []
    root = _repo(tmp_path)
    (root / "sibling.py").write_text("def clear(d):\n    d.__delete__(None)\n")
    lines = [(("descriptors.py", 4), 0.5), (("sibling.py", 2), 0.4)]
    context = Context(root, Task("failing_tests", _failing()), protected=("test_*.py",))
    assert case_edits(context, lines, lambda p: (root / p).read_text()) == []
    assert case_edits(context, lines[:1], lambda p: (root / p).read_text())  # without the sibling module


def test_no_candidate_without_a_member_of_the_shape_or_a_check_with_one_literal():
    two = "def f(a, b):\n    if a == 'xx' and b == 'yy' or a == 'xx' + 'yy':\n        return 1\n"
    assert [m.replacement for m in case_mutants("m.py", two, ("zz",), {2})] == ["(a == 'xx' or a == 'zz')",
                                                                              "(b == 'yy' or b == 'zz')"]
    assert case_mutants("m.py", two, ("ZZ", "__zz__", ".zz", "two words", "z"), {2}) == []  # other shapes
    assert case_mutants("m.py", two, ("zz",), {3}) == []  # not a suspicious line's condition
    assert case_mutants("m.py", "def f(a):\n    return a == b'xx'\n", ("yy",), {2}) == []  # no string literal


def test_the_search_tries_the_missing_member_among_its_first_candidates(tmp_path):
    root = _repo(tmp_path)
    lines = [("descriptors.py", 11, 0.7), ("descriptors.py", 10, 0.6), ("descriptors.py", 4, 0.5),
             ("descriptors.py", 3, 0.5)]
    context = Context(root, Task("failing_tests", _failing()), [SuspiciousLocation(*loc) for loc in lines],
                      protected=("test_*.py",))
    edits = case_edits(context, [((p, n), s) for p, n, s in lines], lambda p: (root / p).read_text())
    assert any(FIXED in mutant.new_source for _, mutant in edits), edits
    first = [mutant for _, mutant in TemplateGenerator().candidates(context, limit=10)]
    assert any(FIXED in m.new_source for m in first), [m.description for m in first]


def test_loopwright_fix_adds_the_missing_member(make_repo):
    out, root, before = fix_offline(make_repo, {"descriptors.py": DESCRIPTORS, "test_descriptors.py": DESCRIPTOR_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+    " + FIXED in out["patch"], out["patch"]
    assert snapshot(root) == before  # the user's tree is left alone without --apply
