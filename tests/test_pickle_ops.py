"""A module-level singleton a failing test pickles or copies given ``__reduce__`` returning its
global name (``harness.generators.pickle_ops``, issue 21; the ``pickle`` docs' remedy)."""

from __future__ import annotations

from harness.generators.message_evidence import Evidence, Files
from harness.generators.pickle_ops import singleton_reduce
from tests.conftest import fix_offline

MARKERS = '''\
"""Sentinels."""


class _Required(object):
    """A value that must be given."""

    def __repr__(self):
        return "<required>"

required = _Required()


class _Drop(object):
    def __repr__(self):
        return "<drop>"

drop = _Drop()


class _Null(object):
    def __reduce__(self):
        return "null"

null = _Null()
'''
TESTS = '''\
import copy
import pickle
import unittest


class RequiredTest(unittest.TestCase):
    def test_pickling(self):
        from markers import required
        self.assertTrue(pickle.loads(pickle.dumps(required)) is required)


class DropTest(unittest.TestCase):
    def test_copying(self):
        import markers
        self.assertIs(copy.deepcopy(markers.drop), markers.drop)


def test_repr():
    from markers import required, drop
    assert repr(required) == "<required>" and repr(drop) == "<drop>"
'''


def _found(*tests: str) -> list[Evidence]:
    return [Evidence(f"tests/test_markers.py::{t}", "AssertionError", "False is not true", ()) for t in tests]


def test_each_pickled_or_copied_singleton_gets_reduce():
    files = Files({"markers.py": MARKERS, "tests/test_markers.py": TESTS}.get, ("tests/*",))
    got = singleton_reduce(files, _found("RequiredTest::test_pickling", "DropTest::test_copying"))
    texts = {m.description.split("`")[3]: m.new_source for _, m in got}
    assert sorted(texts) == ["_Drop", "_Required"]
    assert ('        return "<required>"\n\n    def __reduce__(self):\n        return \'required\'\n\nrequired = _Required()'
            in texts["_Required"])
    assert "    def __reduce__(self):\n        return 'drop'\n" in texts["_Drop"]
    assert all(m.operator == "reduce_global" for _, m in got)


def test_a_class_that_decides_its_pickling_or_a_test_that_pickles_nothing_gets_none():
    tests = TESTS + "\n\ndef test_null():\n    from markers import null\n    assert pickle.loads(pickle.dumps(null)) is null\n"
    files = Files({"markers.py": MARKERS, "tests/test_markers.py": tests}.get, ("tests/*",))
    assert singleton_reduce(files, _found("test_null")) == []
    assert singleton_reduce(files, _found("test_repr")) == []


def test_fix_end_to_end_gives_both_singletons_their_name(make_repo):
    summary, _, _ = fix_offline(make_repo, {"markers.py": MARKERS, "tests/test_markers.py": TESTS})
    assert summary["status"] == "fixed", summary
    assert "+        return 'required'" in summary["patch"] and "+        return 'drop'" in summary["patch"]
    assert not summary.get("suspect")
