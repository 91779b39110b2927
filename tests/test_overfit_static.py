"""Overfit checks read from the diff alone (``harness.core.overfit.static_suspicion``,
``nudged_unit``) and the choice among plausible patches that puts suspect ones last
(``harness.core.plausible.choose``), issue 21."""

from __future__ import annotations

from harness.core.overfit import nudged_unit, static_suspicion
from harness.core.plausible import choose
from sandbox.patch import Patch
from tests.conftest import text_patch as _patch


FACT = "def fact(n):\n    if n <= 1:\n        return 1\n    return n * fact(n - 1)\n"


def test_a_removed_recursion_is_suspect():
    new = FACT.replace("n * fact(n - 1)", "n * (n - 1)")
    assert static_suspicion(_patch(FACT, new), {"m.py": new}, "") == "removes the recursive call of `fact`"
    # changing the argument of the recursion keeps it
    kept = FACT.replace("fact(n - 1)", "fact(n - 2)")
    assert static_suspicion(_patch(FACT, kept), {"m.py": kept}, "") == ""


def test_a_literal_of_the_failing_test_special_cased_is_suspect():
    old = "def f(n):\n    return n * 2\n"
    new = "def f(n):\n    if n == 13:\n        return 1\n    return n * 2\n"
    tests = "def test_thirteen():\n    assert f(13) == 1\n"
    assert "special-cases 13" in static_suspicion(_patch(old, new), {"m.py": new}, tests)
    # the same literal, not in the failing test: a constant of the program's own
    assert static_suspicion(_patch(old, new), {"m.py": new}, "def test_x():\n    assert f(2) == 4\n") == ""


def test_error_handling_deleted_is_suspect():
    old = "def parse(text):\n    try:\n        return int(text)\n    except ValueError as exc:\n        raise ParseError(text) from exc\n"
    swallowed = old.replace("raise ParseError(text) from exc", "pass")
    assert "handler that does nothing" in static_suspicion(_patch(old, swallowed), {"m.py": swallowed}, "")
    check = "def check(x):\n    if x < 0:\n        raise ValueError(x)\n    return x\n"
    unchecked = check.replace("raise ValueError(x)", "return None")
    assert "removes a `raise`" in static_suspicion(_patch(check, unchecked), {"m.py": unchecked}, "")
    # another exception raised instead is still error handling
    other = old.replace("raise ParseError(text) from exc", "raise ValueError(text) from exc")
    assert static_suspicion(_patch(old, other), {"m.py": other}, "") == ""
    # a raise only moved (its condition fixed) is not a deletion
    guard = "def f(x):\n    if x < 0:\n        raise ValueError(x)\n    return x\n"
    moved = guard.replace("if x < 0:", "if x <= 0:")
    assert static_suspicion(_patch(guard, moved), {"m.py": moved}, "") == ""
    # the handler's own line deleted (the error kept for a later raise): the handler does nothing now
    kept = ("def parse(text):\n    exc = None\n    try:\n        return int(text)\n    except ValueError as err:\n"
            "        exc = err\n    if exc is not None:\n        raise exc\n")
    emptied = kept.replace("        exc = err\n", "        pass\n")
    assert "does nothing" in static_suspicion(_patch(kept, emptied), {"m.py": emptied}, "")
    # a handler that already did nothing, untouched by the patch, says nothing
    quiet = "def f(x):\n    try:\n        x.close()\n    except OSError:\n        pass\n    return 1\n"
    other = quiet.replace("return 1", "return 2")
    assert static_suspicion(_patch(quiet, other), {"m.py": other}, "") == ""


def test_a_deletion_in_disguise_is_suspect():
    """A block edited down to ``pass`` and ``x = x`` delete what they replace while they read as
    small edits (marko 2.2.1's ``delimiters.remove(d_closer)`` -> ``pass`` and 2.1.4's
    ``end = i`` -> ``end = end`` were plausible and wrong); a block already empty is not the
    patch's doing."""
    loop = "def f(xs, x):\n    if x in xs:\n        xs.remove(x)\n    return xs\n"
    emptied = loop.replace("xs.remove(x)", "pass")
    assert "leaves a `if` block that does nothing" in static_suspicion(_patch(loop, emptied), {"m.py": emptied}, "")
    end = "def g(text, i):\n    end = text.find(')', i)\n    if end < 0:\n        end = i\n    return text[i:end]\n"
    same = end.replace("end = i\n", "end = end\n")
    assert "`end = end`, which does nothing" in static_suspicion(_patch(end, same), {"m.py": same}, "")
    right = end.replace("end = i\n", "end = len(text)\n")
    assert static_suspicion(_patch(end, right), {"m.py": right}, "") == ""
    idle = "def h(x):\n    if x:\n        pass\n    return 1\n"
    other = idle.replace("return 1", "return 2")
    assert static_suspicion(_patch(idle, other), {"m.py": other}, "") == ""


def test_choose_prefers_a_patch_that_is_not_suspect():
    class Plausible:
        def __init__(self, op, suspect):
            self.patch = Patch.from_texts({"m.py": ("x = 1\n", f"x = {len(op)}\n")}, op, {"operator": op})
            self.suspect, self.unprotected, self.protection = suspect, False, None

    first = Plausible("compare_swap", "removes the recursive call of `f`")
    second = Plausible("delete_statement", "")
    assert choose([first, second]) is second
    assert choose([first]) is first
    # a sign of fooling the tests weighs more than no passing test running the change
    # (an alias line the test imports, added at module level, has no baseline test on it)
    second.unprotected = True
    assert choose([first, second]) is second


def test_a_unit_moved_by_one_is_suspect():
    # parse 1.21.1: `int(float("." + u) * 1000000)` -> `* 1000001` rounds the failing test's
    # microseconds right and every other conversion wrong; the developer parses the digits
    old = 'def micro(u):\n    return int(float("." + u) * 1000000)\n'
    new = old.replace("1000000)", "1000001)")
    why = static_suspicion(_patch(old, new), {"m.py": new}, "def test_x():\n    assert micro('000001') == 1\n")
    assert why == "moves the unit 1000000 to 1000001: a conversion tuned to the failing test's value"
    assert nudged_unit(["    return secs // 60"], ["    return secs // 59"]) != ""
    # a bound or an index off by one is an ordinary fix, and so is a unit that does not scale
    for before, after in (("    for i in range(100):", "    for i in range(101):"),
                          ("    return xs[1000]", "    return xs[1001]"),
                          ("    return ms // 1000 + 1", "    return ms // 1000 + 2"),
                          ("    return secs // 7", "    return secs // 8")):
        assert nudged_unit([before], [after]) == ""
