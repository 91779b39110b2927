"""The operators of ``harness.generators.guard_ops`` (issue 21): a ``return`` of an early stage
guarded by the value it returns, so an empty or ``None`` result falls through to the later
stages; and a name given the conversion the same function applies to it elsewhere (also as an
f-string's value). Each on a bug written for it, both end to end through ``loopwright fix``;
and the overfit check that still sees a guard leaving its ``return`` unrun by every test."""

from __future__ import annotations

import json
import time

from harness.core.context import Context, SuspiciousLocation
from harness.core.dead_code import dead_code, line_map, new_line
from harness.core.task import Task
from harness.evaluators.verdict import Frame, TestResult
from harness.generators.guard_evidence import FIRST_SCORE, guard_mutants
from harness.generators.mutations import mutants_at
from sandbox.patch import Patch
from tests.conftest import fix_offline, run_dir, snapshot
from tests.mutant_checks import find, src
from tests.test_overfit import _validator

COMPLETE = src('''
    def _exact(words, query):
        return [word for word in words if word == query]


    def _finish(found):
        return sorted(found)[:3]


    def complete(words, query):
        """Up to 3 completions of ``query``, best first: ``query`` itself when it is one of
        ``words`` (for queries of two letters or more), else the words starting with it, else
        the words containing it."""
        if len(query) > 1:
            found = _exact(words, query)
            return _finish(found)
        found = [word for word in words if word.startswith(query)]
        if not found:
            found = [word for word in words if query in word]
        return _finish(found)
''')
#: line of the early stage's `return _finish(found)`
EARLY = 15
COMPLETE_FIXED = COMPLETE.replace("        return _finish(found)\n    found = [",
                                  "        if found:\n            return _finish(found)\n    found = [")
COMPLETE_TESTS = src('''
    from complete import complete


    def test_an_exact_word_is_its_own_completion():
        assert complete(["ap", "apple"], "ap") == ["ap"]


    def test_one_letter_gives_the_words_it_starts():
        assert complete(["apple", "apricot", "kiwi"], "a") == ["apple", "apricot"]


    def test_nothing_matches():
        assert complete(["cat"], "x") == []


    def test_no_exact_word_gives_the_words_it_starts():
        assert complete(["apricot", "apple", "banana"], "ap") == ["apple", "apricot"]


    def test_no_word_it_starts_gives_the_words_containing_it():
        assert complete(["banana"], "an") == ["banana"]
''')


def _ops(mutants, op):
    return [m for m in mutants if m.operator == op]


def test_an_early_stage_return_is_guarded_by_the_value_it_returns():
    got = mutants_at("complete.py", COMPLETE, [EARLY])
    assert find(got, COMPLETE_FIXED).operator == "return_guard"
    # `found` is built from a list: no None to test for, only its truth
    assert [m.description for m in _ops(got, "return_guard")] == [
        "line 15: guard `return _finish(found)` by `if found:` (falls through when it fails)"]
    # the function's own last return, and a return in the function's body, fall through to nothing
    assert not _ops(mutants_at("complete.py", COMPLETE, [20]), "return_guard")
    assert not _ops(mutants_at("complete.py", COMPLETE, [2, 6]), "return_guard")
    # a name not assigned just before the return in its block is not its stage's result
    far = COMPLETE.replace("        found = _exact(words, query)\n", "        pass\n        pass\n        pass\n"
                           "        pass\n").replace("    if len(query) > 1:\n", "    found = _exact(words, query)\n"
                                                    "    if len(query) > 1:\n")
    assert not _ops(mutants_at("complete.py", far, [far.splitlines().index("        return _finish(found)") + 1]),
                    "return_guard")


LOOKUP = src('''
    def _cached(cache, key):
        if key in cache:
            return cache[key]


    def resolve(name, aliases, cache, registry):
        for alias in aliases.get(name, ()):
            entry = registry.get(alias)
            return describe(entry)
        if name:
            hit = _cached(cache, name)
            return (
                describe(hit)
            )
        return "unknown"
''')


def test_a_value_that_may_be_none_is_tested_against_none_first():
    got = mutants_at("lookup.py", LOOKUP, [9, 12])
    guards = [m.new_source for m in _ops(got, "return_guard")]
    # in a loop the next alias is tried; `.get` gives None for a miss: `is not None` first, then truth
    assert guards[0] == LOOKUP.replace("        return describe(entry)\n",
                                       "        if entry is not None:\n            return describe(entry)\n")
    assert guards[1] == LOOKUP.replace("        return describe(entry)\n",
                                       "        if entry:\n            return describe(entry)\n")
    # a function of the module that reaches its end gives None; the statement's lines move together
    assert LOOKUP.replace("        return (\n            describe(hit)\n        )\n",
                          "        if hit is not None:\n            return (\n                describe(hit)\n"
                          "            )\n") in guards
    assert len(guards) == 4
    # a lookup with a default gives no None
    defaulted = LOOKUP.replace("registry.get(alias)", "registry.get(alias, {})")
    assert "entry is not None" not in "".join(m.new_source for m in _ops(mutants_at("lookup.py", defaulted, [9]),
                                                                         "return_guard"))


def test_a_guard_leaving_its_return_unrun_by_every_test_is_suspect(tmp_path):
    """The guarded ``return`` is the old line re-indented: the dead code check follows it there
    (without the move it would count as a changed line, whatever it does now)."""
    new = COMPLETE.replace("        return _finish(found)\n    found = [",
                           "        if not found:\n            return _finish(found)\n    found = [")
    patch = Patch.from_texts({"complete.py": (COMPLETE, new)}, "guard", {"operator": "return_guard"})
    assert new_line(line_map(patch, moved=True)["complete.py"], EARLY) == EARLY + 1
    assert new_line(line_map(patch)["complete.py"], EARLY) is None
    root, slot = str(tmp_path / "base") + "/", str(tmp_path / "slot") + "/"
    base = {root + "complete.py": {EARLY - 1: ["t::exact"], EARLY: ["t::exact"]}}
    after = {"t::exact": {slot + "complete.py": [EARLY - 1, EARLY, 20]}}  # the guard, not the return
    why = dead_code(base, root, slot, after, ["t::exact"], {}, [], patch, {"complete.py": new})
    assert why.startswith(f"1 line(s) the passing tests ran are no longer run (complete.py:{EARLY}"), why
    after["t::exact"][slot + "complete.py"].append(EARLY + 1)
    assert dead_code(base, root, slot, after, ["t::exact"], {}, [], patch, {"complete.py": new}) == ""


def test_a_real_run_calls_a_guard_that_kills_the_early_stage_suspect(make_repo):
    """Weak tests: the later stages give the exact word too, so a guard false for every test
    passes them all; it leaves the early stage's return unrun, and is reported suspect. The
    right guard is not."""
    weak = COMPLETE_TESTS.replace('assert complete(["ap", "apple"], "ap") == ["ap"]',
                                  'assert complete(["ap", "bee"], "ap") == ["ap"]')
    root = make_repo({"complete.py": COMPLETE, "test_complete.py": weak})
    validator, wt = _validator(root)
    kill = COMPLETE.replace("        return _finish(found)\n    found = [",
                            "        if found is None:\n            return _finish(found)\n    found = [")
    try:
        got = validator.first_accepted([Patch.from_texts({"complete.py": (COMPLETE, kill)}, "kill",
                                                         {"operator": "return_guard"})],
                                       time.monotonic() + 120, lambda o: None)
        assert got is not None and got.plausible
        assert got.suspect.startswith(f"1 line(s) the passing tests ran are no longer run (complete.py:{EARLY}"), got.suspect
        right = validator.first_accepted([Patch.from_texts({"complete.py": (COMPLETE, COMPLETE_FIXED)}, "right",
                                                           {"operator": "return_guard"})],
                                         time.monotonic() + 120, lambda o: None)
        assert right is not None and right.accepted and right.suspect == "", right.suspect
    finally:
        validator.close()
        wt.remove()


PLURAL = src('''
    def plural(count, word):
        """``"1 apple"``, ``"3 apples"``: ``count`` is an int, or a float holding a whole number
        (read from JSON)."""
        if int(count) == 1:
            return f"{count} {word}"
        return f"{int(count)} {word}s"
''')
PLURAL_FIXED = PLURAL.replace('f"{count} {word}"', 'f"{int(count)} {word}"')
PLURAL_TESTS = src('''
    from plural import plural


    def test_one():
        assert plural(1, "apple") == "1 apple"


    def test_three():
        assert plural(3, "apple") == "3 apples"


    def test_three_from_json():
        assert plural(3.0, "apple") == "3 apples"


    def test_one_from_json():
        assert plural(1.0, "apple") == "1 apple"
''')


def test_a_name_gets_the_conversion_its_function_gives_it_elsewhere():
    # inside an f-string, where the index has no positions
    got = mutants_at("plural.py", PLURAL, [5])
    assert find(got, PLURAL_FIXED).operator == "same_conversion"
    # a call argument, a returned value: most often written conversion first
    code = src('''
        def tag(name, items):
            label = name.lower()
            if name.lower() in items:
                return items[name.lower()]
            save(name, str(name))
            return name
    ''')
    got = _ops(mutants_at("m.py", code, [5, 6]), "same_conversion")
    assert [m.description for m in got] == [
        "line 5: `name` -> `name.lower()` (as the function does elsewhere)",
        "line 5: `name` -> `str(name)` (as the function does elsewhere)",
        "line 6: `name` -> `name.lower()` (as the function does elsewhere)",
        "line 6: `name` -> `str(name)` (as the function does elsewhere)"]
    # the converted uses themselves, an inspected name and another function's name get nothing
    assert not _ops(mutants_at("m.py", code, [2, 3, 4]), "same_conversion")
    checked = "def f(x):\n    if isinstance(x, str):\n        return int(x)\n\n\ndef g(x):\n    return x\n"
    assert not _ops(mutants_at("m.py", checked, [2, 7]), "same_conversion")
    # an escaped brace is text, and a plain string beside the f-string leaves the match unsure
    braces = 'def f(n):\n    print(int(n))\n    return f"{{n}} is {n}"\n'
    assert [m.new_source for m in _ops(mutants_at("m.py", braces, [3]), "same_conversion")] == [
        braces.replace("is {n}", "is {int(n)}")]
    mixed = 'def f(n):\n    print(int(n))\n    return f"{n} " "{n}"\n'
    assert not _ops(mutants_at("m.py", mixed, [3]), "same_conversion")


def test_loopwright_fix_guards_the_early_stage_so_an_empty_result_falls_through(make_repo):
    out, root, before = fix_offline(make_repo, {"complete.py": COMPLETE, "test_complete.py": COMPLETE_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+        if found:\n+            return _finish(found)\n" in out["patch"], out["patch"]
    assert snapshot(root) == before


def test_loopwright_fix_gives_the_f_string_value_its_conversion(make_repo):
    out, root, before = fix_offline(make_repo, {"plural.py": PLURAL, "test_plural.py": PLURAL_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert '+        return f"{int(count)} {word}"' in out["patch"], out["patch"]
    assert snapshot(root) == before


SEARCH = src('''
    def _exact(words, query):
        return [word for word in words if word == query]


    def _search(words, query):
        if len(query) > 1:
            found = _exact(words, query)
            return sorted(found)
        found = [word for word in words if word.startswith(query)]
        if not found:
            found = [word for word in words if query in word]
        return sorted(found)


    def complete(words, query):
        """Up to 3 completions of ``query``: itself when it is one of ``words`` (two letters or
        more), else the words starting with it, else those containing it; LookupError if none."""
        found = _search(words, query)
        if not found:
            raise LookupError(f"nothing completes {query!r}")
        return found[:3]
''')
#: lines of `_search`'s early `return sorted(found)` and of `complete`'s raise
SEARCH_EARLY, SEARCH_RAISE = 8, 20
SEARCH_FIXED = SEARCH.replace("        return sorted(found)\n    found = [",
                              "        if found:\n            return sorted(found)\n    found = [")
SEARCH_TESTS = src('''
    import pytest

    from search import complete


    def test_an_exact_word_is_its_own_completion():
        assert complete(["ap", "apple"], "ap") == ["ap"]


    def test_one_letter_gives_the_words_it_starts():
        assert complete(["apple", "apricot", "kiwi"], "a") == ["apple", "apricot"]


    def test_nothing_matches():
        with pytest.raises(LookupError):
            complete(["cat"], "x")


    def test_no_exact_word_gives_the_words_it_starts():
        assert complete(["apricot", "apple", "banana"], "ap") == ["apple", "apricot"]
''')


def _context(tmp_path, message: str, line: int, ran: list[int]) -> Context:
    frames = (Frame("test_search.py", 20, "test_x"), Frame("search.py", line, "complete"))
    failing = {"test_search.py::test_x": TestResult("test_search.py::test_x", "failed", message, frames)}
    return Context(tmp_path, Task("failing_tests", failing), [SuspiciousLocation("search.py", n, 1.0) for n in ran],
                   ("test_*.py",))


def test_a_raise_on_an_empty_result_points_at_the_returns_that_gave_it(tmp_path):
    """The failing test ends in `raise` under `if not found:`; `found` came from `_search`: its
    early return the failing test ran is guarded first, before any blind mutant."""
    def read(path):
        return SEARCH if path == "search.py" else None

    got = guard_mutants(_context(tmp_path, "LookupError: nothing completes 'ap'", SEARCH_RAISE, [SEARCH_EARLY]), read)
    assert [mutant.new_source for _, mutant in got] == [SEARCH_FIXED]
    assert got[0][0] == FIRST_SCORE
    # not run by the failing test: still offered, after those it ran (none here)
    assert [m.new_source for _, m in guard_mutants(_context(tmp_path, "LookupError: x", SEARCH_RAISE, []), read)] == [
        SEARCH_FIXED]
    # a failure elsewhere (not a raise under an emptiness test) points at nothing
    assert guard_mutants(_context(tmp_path, "LookupError: x", SEARCH_RAISE + 1, [SEARCH_EARLY]), read) == []
    checked = SEARCH.replace("    if not found:\n        raise", "    if found == 1:\n        raise")
    assert checked != SEARCH
    assert guard_mutants(_context(tmp_path, "LookupError: x", SEARCH_RAISE, [SEARCH_EARLY]),
                         lambda path: checked) == []


def test_loopwright_fix_guards_the_stage_the_raise_points_at(make_repo):
    out, root, before = fix_offline(make_repo, {"search.py": SEARCH, "test_search.py": SEARCH_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+        if found:\n+            return sorted(found)\n" in out["patch"], out["patch"]
    steps = [json.loads(line) for line in (run_dir(root, out["run_id"]) / "trajectory.jsonl").read_text().splitlines()]
    tried = [step["patch"]["meta"] for step in steps if step["action"] == "evaluate"]
    best = max(tried, key=lambda meta: meta["score"])  # ranked first, before any blind mutant
    assert best["operator"] == "return_guard" and best["score"] > 2.0, tried
    assert snapshot(root) == before
