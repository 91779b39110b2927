"""The differential check of plausible patches (``harness.core.differential``, issue 21): a
patch that changes what a function gives on a passing test's input, where the other plausible
patches keep the baseline's answer, is suspect and chosen last; for an only plausible patch
nothing is compared."""

from __future__ import annotations

import time

from harness.core.differential import behaviour_changes, changed_functions
from sandbox.patch import Patch
from tests.test_overfit import _validator

PRICE = "def price(qty):\n    if qty > 10:\n        return qty * 9\n    return qty * 10\n"
PRICE_TESTS = ("from shop import price\n\n\ndef test_small():\n    assert price(3) == 30\n\n\n"
               "def test_big_is_positive():\n    assert price(20) > 0\n\n\n"
               "def test_ten_gets_the_discount():\n    assert price(10) == 90\n")
#: fixes the failing test, and changes price(20) (180 -> 200), which only a weak test runs
NARROW = PRICE.replace("if qty > 10:", "if qty >= 10 and qty < 20:")
RIGHT = PRICE.replace("if qty > 10:", "if qty >= 10:")


def test_behaviour_changes_hold_only_what_the_others_keep():
    base = {"t::a": [["f", "x=1", "= 1"], ["f", "x=2", "= 2"], ["g", "", "= 5"], ["g", "", "= 6"]]}
    one = {"t::a": [["f", "x=1", "= 1"], ["f", "x=2", "= 3"], ["g", "", "= 7"]]}
    two = {"t::a": [["f", "x=1", "= 1"], ["f", "x=2", "= 2"]]}
    both = {"t::a": [["f", "x=1", "! ValueError"], ["f", "x=2", "= 2"]]}
    # `g()` answered two ways at baseline: a value of the moment, never compared
    got = behaviour_changes(base, [one, two])
    assert got[0] == ("changes what `f` gives on an input of a passing test that does not check it "
                      "(t::a: `f(x=2)` was `2`, now `3`), where the other plausible patches keep it")
    assert got[1] == ""
    # a change every patch makes is no patch's fault
    assert behaviour_changes(base, [one, {"t::a": [["f", "x=2", "= 4"]]}]) == ["", ""]
    assert behaviour_changes(base, [both, two])[0].endswith("`f(x=1)` was `1`, now raises ValueError), "
                                                            "where the other plausible patches keep it")
    # an other patch that keeps the answer only because `t::a` never runs its change says nothing
    assert behaviour_changes(base, [one, two], [{"t::a"}, set()]) == ["", ""]
    assert behaviour_changes(base, [one, two], [set(), {"t::a"}])[0].startswith("changes what `f` gives")


def test_changed_functions_are_the_innermost_with_their_qualified_names(tmp_path):
    (tmp_path / "m.py").write_text("X = 1\n\n\nclass A:\n    def f(self):\n        def g():\n"
                                   "            return 1\n        return g()\n\n\ndef h():\n    return 2\n")
    got = changed_functions(tmp_path, {"m.py": {1, 7, 12}})
    assert [(rel, name) for rel, name, _ in got] == [("m.py", "A.f.<locals>.g"), ("m.py", "h")]
    assert list(got[1][2]) == [12]


def test_of_two_plausible_patches_the_one_that_keeps_the_passing_inputs_answers_is_chosen(make_repo):
    root = make_repo({"shop.py": PRICE, "test_shop.py": PRICE_TESTS})
    validator, wt = _validator(root)
    narrow = Patch.from_texts({"shop.py": (PRICE, NARROW)}, "narrow")
    right = Patch.from_texts({"shop.py": (PRICE, RIGHT)}, "right")
    seen = []
    try:
        got = validator.first_accepted([narrow, right], time.monotonic() + 120, seen.append)
        assert got is not None and got.patch is right and got.suspect == "", [(o.patch.description, o.suspect) for o in seen]
        other = next(o for o in seen if o.patch is narrow)
        assert other.plausible and not other.accepted
        assert ("test_shop.py::test_big_is_positive: `price(qty=20)` was `180`, now `200`), where the other "
                "plausible patches keep it") in other.suspect
        assert got.seconds["differential"] > 0
        # without the check the narrow patch, first and as small, would have been chosen
        assert got.plausible_patches == 2 and got.alternatives == ["narrow"]
    finally:
        validator.close()
        wt.remove()


def test_an_only_plausible_patch_is_not_compared(make_repo):
    """Alone, a change on a passing test's input is what a correct fix of a bug the passing tests
    also ran does too (semantic-version's `Version.__ge__` on the bench): no capture runs."""
    root = make_repo({"shop.py": PRICE, "test_shop.py": PRICE_TESTS})
    validator, wt = _validator(root)
    try:
        got = validator.first_accepted([Patch.from_texts({"shop.py": (PRICE, NARROW)}, "narrow")],
                                       time.monotonic() + 120, lambda o: None)
        assert got is not None and got.accepted and got.suspect == ""
        assert "differential" not in got.seconds
    finally:
        validator.close()
        wt.remove()

