"""``default_ops.mutable_default``: a list, dict or set default made once per call instead of
once per ``def``; on bugs written for these tests, and end to end on a small library whose
default list grows from one call to the next."""

from __future__ import annotations

from harness.generators.mutations import mutants_at
from tests.conftest import fix_offline
from tests.mutant_checks import check_all, find, src

CODE = src('''
    def add_tag(tag, tags=[], *, seen={}):
        """Docstring."""
        tags.append(tag)
        seen[tag] = 1
        return tags


    class Path:
        def walk(self, x, acc=list(), limit=[3]):
            acc += [x]
            return acc + limit


    def read_only(x, options={}):
        return options.get(x)
''')


def fixes(line: int) -> list[str]:
    got = mutants_at("pkg/mod.py", CODE, [line])
    check_all(CODE, got)
    return [m.new_source for m in got if m.operator == "mutable_default"]


def test_a_default_changed_in_place_is_made_at_each_call():
    want = CODE.replace("tags=[], *", "tags=None, *").replace(
        '    """Docstring."""\n', '    """Docstring."""\n    if tags is None:\n        tags = []\n')
    assert find(mutants_at("pkg/mod.py", CODE, [3]), want).operator == "mutable_default"
    assert fixes(4) == [CODE.replace("seen={}", "seen=None").replace(
        '    """Docstring."""\n', '    """Docstring."""\n    if seen is None:\n        seen = {}\n')]
    # a method, a call default, the indentation of a class body; the untouched `limit` stays
    assert fixes(10) == [CODE.replace("acc=list()", "acc=None").replace(
        "        acc += [x]\n", "        if acc is None:\n            acc = list()\n        acc += [x]\n")]


def test_a_default_only_read_is_left_alone():
    assert fixes(11) == [] and fixes(15) == []


TAGS = src('''
    """Tags for records."""


    def tagged(record, tag, tags=[]):
        """The tags of ``record`` (``tags`` if given, else a new list) with ``tag`` added once."""
        if tag not in tags:
            tags.append(tag)
        return {"record": record, "tags": tags}
''')
TAGS_TESTS = src('''
    from tags import tagged


    def test_given_tags_are_extended():
        assert tagged(1, "b", ["a"]) == {"record": 1, "tags": ["a", "b"]}


    def test_a_tag_is_added_once():
        assert tagged(1, "a", ["a"])["tags"] == ["a"]


    def test_each_call_gets_its_own_list():
        assert tagged(1, "x")["tags"] == ["x"]
        assert tagged(2, "y")["tags"] == ["y"]
''')


def test_loopwright_fix_makes_the_default_list_at_each_call(make_repo):
    out, _, _ = fix_offline(make_repo, {"tags.py": TAGS, "test_tags.py": TAGS_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+def tagged(record, tag, tags=None):" in out["patch"] and "+    if tags is None:\n+        tags = []" in out["patch"], out["patch"]
