"""An attribute some objects lack, read behind ``hasattr`` (``harness.generators.attr_guard``,
issue 21): the candidates a failing test's ``AttributeError`` gives, and a fix end to end."""

from __future__ import annotations

from harness.generators.attr_guard import attr_guards, missing_attribute
from harness.generators.message_evidence import Evidence, Files
from tests.conftest import fix_offline

ARGS = '''\
class Alias:
    def __init__(self, *args):
        if args:
            self.__args__ = args


def get_args(tp):
    """The arguments of an alias; () for a bare one."""
    if isinstance(tp, Alias):
        res = tp.__args__
        return tuple(res)
    return ()
'''
ARGS_TESTS = '''\
from typed import Alias, get_args


def test_parameterized():
    assert get_args(Alias(int, str)) == (int, str)


def test_bare_alias():
    assert get_args(Alias()) == ()


def test_not_an_alias():
    assert get_args(3) == ()
'''


def _evidence(text: str = "'Alias' object has no attribute '__args__'", line: int = 10) -> list[Evidence]:
    return [Evidence("tests/test_typed.py::test_bare_alias", "AttributeError", text,
                     (("tests/test_typed.py", 9), ("typed.py", line)))]


def _texts(source: str, found: list[Evidence]) -> dict[str, str]:
    files = Files({"typed.py": source}.get, ("tests/*",))
    return {mutant.operator: mutant.new_source for _, mutant in attr_guards(files, found)}


def test_the_missing_attribute_is_read_from_both_message_forms():
    assert missing_attribute(_evidence()[0]) == "__args__"
    assert missing_attribute(_evidence("__args__")[0]) == "__args__"  # typing's __getattr__ says only the name
    assert missing_attribute(Evidence("t", "TypeError", "'x' object has no attribute 'y'", ())) is None
    assert missing_attribute(_evidence("the attribute is read-only")[0]) is None


def test_the_read_gets_a_conjunct_a_guard_and_a_default():
    got = _texts(ARGS, _evidence())
    assert "    if isinstance(tp, Alias) and hasattr(tp, '__args__'):\n        res = tp.__args__\n" in got["hasattr_conjunct"]
    assert "        if hasattr(tp, '__args__'):\n            res = tp.__args__\n" in got["hasattr_guard"]
    assert "        res = getattr(tp, '__args__', None)\n" in got["getattr_default"]
    files = Files({"typed.py": ARGS}.get, ("tests/*",))
    first = attr_guards(files, _evidence())[0][1]
    assert first.operator == "hasattr_conjunct"


def test_a_read_in_the_test_itself_is_checked_before_its_operand():
    source = "def ready(job):\n    if job and job.done or job is None:\n        return True\n    return False\n"
    found = [Evidence("tests/test_j.py::test_x", "AttributeError", "'int' object has no attribute 'done'",
                      (("typed.py", 2),))]
    got = _texts(source, found)
    assert "    if job and hasattr(job, 'done') and job.done or job is None:\n" in got["hasattr_conjunct"]
    assert "hasattr_guard" not in got  # an if statement is no one-line statement to guard


def test_what_gives_no_candidate():
    # the read is a call's result (repeating the call could have effects), or in an else branch
    source = "def f(x):\n    if x:\n        return 1\n    else:\n        return make(x).size\n"
    got = _texts(source, [Evidence("t::t", "AttributeError", "'A' object has no attribute 'size'", (("typed.py", 5),))])
    assert got == {}
    source = "def f(x):\n    if x:\n        return 1\n    else:\n        return x.size\n"
    got = _texts(source, [Evidence("t::t", "AttributeError", "'A' object has no attribute 'size'", (("typed.py", 5),))])
    assert "hasattr_conjunct" not in got and "hasattr_guard" in got
    # a frame in a test file is not edited
    assert _texts(ARGS, [Evidence("t::t", "AttributeError", "'A' object has no attribute '__args__'",
                                  (("tests/test_typed.py", 9),))]) == {}


def test_fix_end_to_end_takes_the_developers_conjunct(make_repo):
    summary, root, _ = fix_offline(make_repo, {"typed.py": ARGS, "tests/test_typed.py": ARGS_TESTS})
    assert summary["status"] == "fixed", summary
    assert "+    if isinstance(tp, Alias) and hasattr(tp, '__args__'):" in summary["patch"]
    assert not summary.get("suspect")


def test_a_test_that_expects_an_error_gets_no_guard():
    # semantic_version's `__ge__` with its isinstance check negated: a foreign operand reaches
    # `other._key`; `getattr(other, '_key', None)` then fails on `>= None` with the TypeError the
    # test expects, for the wrong reason
    source = ("class V:\n    def __ge__(self, other):\n        if isinstance(other, V):\n"
              "            return NotImplemented\n        return self._key >= other._key\n")
    tests = ("import pytest\nfrom typed import V\n\n\ndef test_invalid():\n    with pytest.raises(TypeError):\n"
             "        V() >= 'x'\n")
    files = Files({"typed.py": source, "tests/test_typed.py": tests}.get, ("tests/*",))
    found = [Evidence("tests/test_typed.py::test_invalid", "AttributeError", "'str' object has no attribute '_key'",
                      (("tests/test_typed.py", 7), ("typed.py", 5)))]
    assert attr_guards(files, found) == []
    plain = tests.replace("    with pytest.raises(TypeError):\n        V() >= 'x'\n", "    assert (V() >= 'x') is None\n")
    files = Files({"typed.py": source, "tests/test_typed.py": plain}.get, ("tests/*",))
    assert attr_guards(files, found)  # the same failure in a test that expects no error
