"""What a plausible patch's coverage says (``harness.core.dead_code``, issue 21): the diff's line
map, lines the passing tests ran made dead, a function the failing tests reached only through the
edit, and what is exempt (the error path, the error report's functions, ``__repr__``, an
exception's own methods)."""

from __future__ import annotations

from harness.core.dead_code import dead_code, error_path_lines, line_map, new_line, reporting_calls
from tests.conftest import text_patch as _patch
from tests.test_overfit import CLI


def test_line_numbers_follow_the_diff():
    old = "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\ng = 7\nh = 8\ni = 9\nj = 10\n"
    new = old.replace("b = 2\n", "b = 2\nb2 = 3\nb3 = 4\n").replace("i = 9\n", "")
    mapping = line_map(_patch(old, new))["m.py"]
    assert new_line(mapping, 1) == 1 and new_line(mapping, 3) == 5 and new_line(mapping, 9) is None
    assert new_line(mapping, 10) == 11


def test_lines_the_passing_tests_ran_made_dead_are_suspect(tmp_path):
    old = "def clamp(x):\n    if x > 10:\n        return 10\n    return x\n"
    new = old.replace("x > 10", "x > 100")
    root, slot = str(tmp_path / "base") + "/", str(tmp_path / "slot") + "/"
    base = {root + "m.py": {1: ["<import>"], 2: ["t::a", "t::b"], 3: ["t::a"], 4: ["t::b"]}}
    # after the patch `t::a` no longer runs line 3 (its `return 10`)
    after = {"t::a": {slot + "m.py": [2, 4]}, "t::b": {slot + "m.py": [2, 4]}}
    why = dead_code(base, root, slot, after, ["t::a", "t::b"], {}, [], _patch(old, new), {"m.py": new})
    assert why.startswith("1 line(s) the passing tests ran are no longer run (m.py:3")
    # a line the failing test merely ran too is not exempt: the patch may kill its branch
    base[root + "m.py"][3].append("t::bad")
    assert dead_code(base, root, slot, after, ["t::a", "t::b"], {}, [], _patch(old, new), {"m.py": new}) != ""
    # a line of the failing test's traceback is the bug's path: the fix may leave it
    assert dead_code(base, root, slot, after, ["t::a", "t::b"], {"m.py": {3}}, [], _patch(old, new),
                     {"m.py": new}) == ""
    base[root + "m.py"][3].remove("t::bad")
    after["t::a"][slot + "m.py"].append(3)
    assert dead_code(base, root, slot, after, ["t::a", "t::b"], {}, [], _patch(old, new), {"m.py": new}) == ""
    # a test module's own line that no longer runs (its branch on `sys.modules`, which moves with
    # the order the tests run in) is no code the patch made dead
    base[root + "tests/test_m.py"] = {7: ["t::a"], 8: ["t::a"]}
    after["t::a"][slot + "tests/test_m.py"] = [7]
    assert dead_code(base, root, slot, after, ["t::a", "t::b"], {}, [], _patch(old, new), {"m.py": new}) == ""


def test_a_function_the_failing_test_reached_only_through_the_edit_is_suspect(tmp_path):
    old = "def helper(x):\n    return x + 1\n\ndef f(x):\n    return helper(x)\n"
    new = old.replace("return helper(x)", "return x + 2")
    root, slot = str(tmp_path / "base") + "/", str(tmp_path / "slot") + "/"
    base = {root + "m.py": {1: ["<import>"], 2: ["t::bad"], 4: ["<import>"], 5: ["t::bad"]}}
    after = {"t::bad": {slot + "m.py": [5]}}
    why = dead_code(base, root, slot, after, [], {}, ["t::bad"], _patch(old, new), {"m.py": new})
    assert why.startswith("no test runs `helper` (m.py) any more")
    # a fixed test the re-run did not run says nothing of what it reaches
    assert dead_code(base, root, slot, after, [], {}, [], _patch(old, new), {"m.py": new}) == ""


def test_a_repr_the_failing_assertion_called_is_not_a_lost_function(tmp_path):
    # `assert find(...) is None` failed and showed the Result it got: its __repr__ ran in the
    # failing test only; the fix returns None, and nothing shows a Result any more (parse 1.12)
    old = ("class Result:\n    def __repr__(self):\n        return 'R'\n\n"
           "def find(s):\n    if s[0] == '{':\n        return Result()\n")
    new = old.replace("if s[0] == '{':", "if s[0] == '{' and s[-1] == '}':")
    root, slot = str(tmp_path / "base") + "/", str(tmp_path / "slot") + "/"
    base = {root + "m.py": {1: ["<import>"], 2: ["<import>"], 3: ["t::bad"], 5: ["<import>"], 6: ["t::bad"],
                            7: ["t::bad"]}}
    after = {"t::bad": {slot + "m.py": [6]}}
    assert dead_code(base, root, slot, after, [], {}, ["t::bad"], _patch(old, new), {"m.py": new}) == ""
    # a helper of the test module itself (a callback the test hands the code) is no code path
    helper = "def lookup(name):\n    return False\n"
    base_t = {**base, root + "tests/test_m.py": {1: ["<import>"], 2: ["t::bad"]}}
    assert dead_code(base_t, root, slot, after, [], {}, ["t::bad"], _patch(old, new), {"m.py": new},
                     source=lambda rel: helper) == ""
    # the failing test's own traceback (the error-reporting chain the fix stops reaching) is no loss
    raising = "def parse(s):\n    if s[0] == '{':\n        return error(s)\n\ndef error(s):\n    raise ValueError(s)\n"
    fixed_raising = raising.replace("if s[0] == '{':", "if s[0] == '{' and s[-1] != '}':")
    base_r = {root + "m.py": {1: ["<import>"], 2: ["t::bad"], 3: ["t::bad"], 5: ["<import>"], 6: ["t::bad"]}}
    after_r = {"t::bad": {slot + "m.py": [2]}}
    args = (base_r, root, slot, after_r, [])
    assert "no test runs `error`" in dead_code(*args, {}, ["t::bad"], _patch(raising, fixed_raising), {"m.py": fixed_raising})
    assert dead_code(*args, {"m.py": {3, 6}}, ["t::bad"], _patch(raising, fixed_raising), {"m.py": fixed_raising}) == ""
    named = old.replace("__repr__", "describe")  # any other function is still judged
    assert "no test runs `describe`" in dead_code(base, root, slot, after, [], {}, ["t::bad"], _patch(named, new.replace(
        "__repr__", "describe")), {"m.py": new.replace("__repr__", "describe")})


def test_error_path_lines_are_raises_and_handlers():
    assert error_path_lines(CLI) == {3, 8, 14, 15, 18, 19}
    assert error_path_lines("def f(:\n") == set()


def test_a_function_the_error_report_called_is_not_a_lost_function(tmp_path):
    # pycparser's p_error reports `self._parse_error(msg, self._coord(column=self.clex.find_tok_column(p)))`:
    # the fix stops the error, and with it the column helper the report called (no other test did)
    old = ("def column(s):\n    return s.index('a')\n\n"
           "def error(msg):\n    raise ValueError(msg)\n\n"
           "def parse(s):\n    if s.startswith('{'):\n        error('before: %s at %d'\n"
           "              % (s, column(s)))\n    return s\n")
    new = old.replace("if s.startswith('{'):", "if s.startswith('{') and not s.endswith('}'):")
    root, slot = str(tmp_path / "base") + "/", str(tmp_path / "slot") + "/"
    base = {root + "m.py": {1: ["<import>"], 2: ["t::bad"], 4: ["<import>"], 5: ["t::bad"], 7: ["<import>"],
                            8: ["t::bad"], 9: ["t::bad"]}}
    after = {"t::bad": {slot + "m.py": [8, 11]}}
    args = (base, root, slot, after, [], {"m.py": {9, 5}}, ["t::bad"], _patch(old, new), {"m.py": new})
    assert "no test runs `column`" in dead_code(*args)
    chains = [[("m.py", 9), ("m.py", 5)]]  # the test's frames, outermost first: it ends in a raise
    reporters = reporting_calls(chains, lambda rel: old)
    assert {"error", "column"} <= reporters and "index" not in reporters
    assert dead_code(*args, reporters=reporters) == ""
    # a failure that is no reported error (a TypeError inside a computation) names nothing
    assert reporting_calls([[("m.py", 9), ("m.py", 2)]], lambda rel: old) == set()


def test_the_error_report_of_many_failing_tests_parses_each_file_once(monkeypatch):
    # tabulate: 138 failing tests ending in its 105 KB module, parsed once per test: 7 s
    import harness.core.dead_code as dead_code_module
    old = "def error(msg):\n    raise ValueError(msg)\n\ndef parse(s):\n    error('bad %s' % len(s))\n"
    parsed = []
    real = dead_code_module.error_path_lines
    monkeypatch.setattr(dead_code_module, "error_path_lines", lambda text: parsed.append(text) or real(text))
    chains = [[("m.py", 5), ("m.py", 2)] for _ in range(138)]
    assert reporting_calls(chains, lambda rel: old) == {"error", "len", "ValueError"}
    assert len(parsed) == 1


def test_an_exceptions_own_method_the_fix_stops_reaching_is_no_lost_function():
    from harness.core.dead_code import _lost_function
    from tests.mutant_checks import src

    text = src('''
        class ParseError(Exception):
            def __init__(self, part):
                super().__init__(f"bad {part}")


        class BadHost(ParseError):
            def __init__(self, host):
                super().__init__(host)


        def helper(x):
            return x * 2
    ''')
    ran = set(range(1, 13))
    assert _lost_function(text, ran, set()) == "helper"  # a plain function is still noticed
    assert _lost_function(text, ran, {12}) == ""  # BadHost/ParseError.__init__ are the error path
