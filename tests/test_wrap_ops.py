"""The operators of ``harness.generators.wrap_ops`` (issue 21): a ``try``/``except`` around the
statement that raised, a conversion or ``None`` guard at a function's entry, an early return
before the statement that raised, a sibling function's normalization of the same parameter;
each on a bug written for it, three of them end to end through ``loopwright fix``; and the
overfit check that calls a handler swallowing the failure suspect."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from harness.core.overfit import static_suspicion
from harness.evaluators.verdict import Frame, TestResult
from harness.generators.mutations import mutants_at
from loopwright.cli import app
from sandbox.patch import Patch
from tests.conftest import PYTHON, git, snapshot
from tests.mutant_checks import find, src

runner = CliRunner()


def failing(path: str, message: str, *lines: int) -> dict[str, TestResult]:
    """One failing test whose traceback passes ``path`` at ``lines`` (outermost first)."""
    frames = (Frame("test_m.py", 3, "test_x"), *(Frame(path, line, "f") for line in lines))
    return {"test_m.py::test_x": TestResult("test_m.py::test_x", "failed", message, frames)}


PORTS = src('''
    def read_ports(items):
        """The port numbers among ``items``; items that are not numbers are skipped."""
        ports = []
        for item in items:
            port = int(item)
            ports.append(port)
        return ports
''')
PORTS_FIXED = PORTS.replace("        port = int(item)\n",
                            "        try:\n            port = int(item)\n        except ValueError:\n            continue\n")
PORTS_TESTS = src('''
    from ports import read_ports


    def test_numbers():
        assert read_ports(["80", "443"]) == [80, 443]


    def test_words_are_skipped():
        assert read_ports(["80", "http", "443"]) == [80, 443]
''')


def test_a_statement_that_raised_is_wrapped_with_fallbacks_from_its_function():
    fail = failing("ports.py", "ValueError: invalid literal for int() with base 10: 'http'", 5)
    got = mutants_at("ports.py", PORTS, [5], fail)
    assert find(got, PORTS_FIXED).operator == "wrap_try"
    wraps = [m.new_source for m in got if m.operator == "wrap_try"]
    # the target's own fallback (None) and the loop's `continue`
    assert any("except ValueError:\n            port = None\n" in text for text in wraps)
    # without the failure's evidence, or at a line it does not pass, nothing is wrapped
    assert not [m for m in mutants_at("ports.py", PORTS, [5]) if m.operator == "wrap_try"]
    assert not [m for m in mutants_at("ports.py", PORTS, [6], fail) if m.operator == "wrap_try"]
    # an assertion is a check, not a crash to absorb
    assert not [m for m in mutants_at("ports.py", PORTS, [5], failing("ports.py", "AssertionError: x", 5))
                if m.operator == "wrap_try"]


def test_fallbacks_are_other_assignments_and_returned_constants():
    code = src('''
        import json


        def load(text):
            if not text:
                data = {"empty": True}
                return data
            data = json.loads(text)
            return data
    ''')
    fail = failing("m.py", "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)", 8)
    texts = [m.new_source for m in mutants_at("m.py", code, [8], fail) if m.operator == "wrap_try"]
    # a name the module does not bind is caught by its dotted name through the imported module
    assert any('except json.decoder.JSONDecodeError:\n        data = {"empty": True}\n' in t for t in texts), texts
    assert any("except json.decoder.JSONDecodeError:\n        data = {}\n" in t for t in texts), texts
    bare = src('''
        def close_all(handles):
            for h in handles:
                h.close()
            return 0
    ''')
    texts = [m.new_source for m in mutants_at("m.py", bare, [3], failing("m.py", "OSError: closed", 3))
             if m.operator == "wrap_try"]
    assert {t.split("except OSError:\n", 1)[1].split("\n", 1)[0].strip() for t in texts} == {"pass", "return 0", "continue"}


ENSURE = src('''
    def ensure(value, error):
        """``value`` if truthy; else raise ``error``: an exception, or a message for a ValueError."""
        if not value:
            raise error
        return value


    def ensure_all(values, error):
        if isinstance(error, str):
            error = ValueError(error)
        return [ensure(v, error) for v in values]
''')
ENSURE_FIXED = ENSURE.replace("    if not value:\n",
                              "    if isinstance(error, str):\n        error = ValueError(error)\n    if not value:\n", 1)
ENSURE_TESTS = src('''
    import pytest

    from checks import ensure, ensure_all


    def test_a_truthy_value_is_returned():
        assert ensure(3, ValueError("no")) == 3
        assert ensure_all([1, 2], "no") == [1, 2]


    def test_an_exception_is_raised():
        with pytest.raises(KeyError):
            ensure(0, KeyError("k"))


    def test_a_message_is_raised_as_a_value_error():
        with pytest.raises(ValueError, match="empty"):
            ensure("", "empty")
''')


def test_a_parameter_is_converted_at_the_entry_by_a_constructor_the_module_uses():
    fail = failing("checks.py", "TypeError: exceptions must derive from BaseException", 4)
    got = mutants_at("checks.py", ENSURE, [4], fail)
    assert find(got, ENSURE_FIXED).operator == "convert_param"
    # the message's own constructor too
    assert find(got, ENSURE_FIXED.replace("error = ValueError(error)\n    if not", "error = Exception(error)\n    if not"))
    assert not [m for m in mutants_at("checks.py", ENSURE, [4]) if m.operator == "convert_param"]
    # a class of the module that takes no argument is no converter (semantic-version's
    # `MaxIdentifier(other)` only raised a TypeError the test happened to expect)
    marker = src('''
        class Top:
            pass


        class Box:
            def __init__(self, value):
                self.value = value


        def rank(other):
            if isinstance(other, (Top, Box)):
                return 0
            return other.rank
    ''')
    got = {m.new_source.split("other = ", 1)[1].split("\n", 1)[0] for m in mutants_at(
        "m.py", marker, [13], failing("m.py", "AttributeError: 'str' object has no attribute 'rank'", 13))
           if m.operator == "convert_param"}
    assert got == {"Box(other)"}


def test_a_closure_converts_its_makers_parameter():
    code = src('''
        def failing_with(error=RuntimeError):
            """A callable that raises ``error`` (an exception, its class, or a message)."""
            def fail(*args):
                raise error
            return fail
    ''')
    fail = failing("m.py", "TypeError: exceptions must derive from BaseException", 4)
    fixed = code.replace("    def fail(", "    if isinstance(error, str):\n        error = Exception(error)\n    def fail(")
    assert find(mutants_at("m.py", code, [4], fail), fixed).operator == "convert_param"
    # pytest.raises(match=...) caught the TypeError: the traceback ends in the test, the
    # message quotes the error on a later line
    caught = failing("m.py", "AssertionError: Regex pattern did not match.\n Regex: 'boom'\n"
                     " Input: 'exceptions must derive from BaseException'")
    assert find(mutants_at("m.py", code, [4], caught), fixed).operator == "convert_param"
    # a type's name in an assertion's values is no evidence
    plain = failing("m.py", "AssertionError: assert 'str' == 'int'")
    assert not [m for m in mutants_at("m.py", code, [4], plain) if m.operator == "convert_param"]


def test_a_none_parameter_gets_the_empty_value_its_method_needs():
    code = src('''
        def add_tag(tags, tag):
            tags.append(tag)
            return tags
    ''')
    fail = failing("m.py", "AttributeError: 'NoneType' object has no attribute 'append'", 2)
    fixed = code.replace("    tags.append", "    if tags is None:\n        tags = []\n    tags.append")
    assert find(mutants_at("m.py", code, [2], fail), fixed).operator == "convert_param"


AVERAGE = src('''
    def average(values):
        """The mean of ``values``; None when there are none."""
        if values is None:
            return None
        total = sum(values)
        return total / len(values)
''')
AVERAGE_FIXED = AVERAGE.replace("    return total /", "    if not values:\n        return None\n    return total /")
AVERAGE_TESTS = src('''
    from stats import average


    def test_mean():
        assert average([1, 2, 3]) == 2
        assert average([0, 0]) == 0


    def test_no_values():
        assert average(None) is None
        assert average([]) is None
''')


def test_an_early_return_guards_the_statement_that_raised():
    fail = failing("stats.py", "ZeroDivisionError: division by zero", 6)
    got = mutants_at("stats.py", AVERAGE, [6], fail)
    assert find(got, AVERAGE_FIXED).operator == "early_return"
    assert find(got, AVERAGE.replace("    return total /", "    if total is None:\n        return None\n    return total /"))
    # a function returning only computed values has no constant to fall back on
    computed = "def ratio(a, b):\n    return a / b\n"
    assert not [m for m in mutants_at("m.py", computed, [2], failing("m.py", "ZeroDivisionError: x", 2))
                if m.operator == "early_return"]


TAGS = src('''
    def slug(title):
        """The URL slug of a title: lower case words joined by dashes."""
        title = title.strip().lower()
        return "-".join(title.split())


    def tag_key(title):
        """The key a tag is stored under: its words, lower case, joined by dashes."""
        return "-".join(title.split())
''')
_KEY_DOC = '    """The key a tag is stored under: its words, lower case, joined by dashes."""\n'
TAGS_FIXED = TAGS.replace(_KEY_DOC, _KEY_DOC + "    title = title.strip().lower()\n")
TAGS_TESTS = src('''
    from tags import slug, tag_key


    def test_slug():
        assert slug("  Hello World ") == "hello-world"


    def test_tag_key():
        assert tag_key("Hello World") == "hello-world"
''')


def test_a_sibling_normalization_is_carried_to_the_same_parameter():
    got = mutants_at("tags.py", TAGS, [9])
    assert find(got, TAGS_FIXED).operator == "normalize_param"
    # the function that already normalizes is left alone
    assert not [m for m in mutants_at("tags.py", TAGS, [4]) if m.operator == "normalize_param"]


# -- end to end -------------------------------------------------------------------
def fix_json(root) -> tuple[int, dict]:
    result = runner.invoke(app, ["fix", str(root), "--python", PYTHON, "--json", "--max-iterations", "20"])
    return result.exit_code, json.loads(result.stdout)


def _fixed(make_repo, files: dict[str, str], path: str) -> tuple[dict, str]:
    root = make_repo(files)
    before = snapshot(root)
    code, out = fix_json(root)
    assert code == 0 and out["status"] == "fixed", out
    assert snapshot(root) == before
    return out, git(root, "show", f"{out['branch']}:{path}")


def test_fix_wraps_the_statement_that_raised(make_repo):
    out, text = _fixed(make_repo, {"ports.py": PORTS, "test_ports.py": PORTS_TESTS}, "ports.py")
    assert text == PORTS_FIXED


def test_fix_converts_a_message_into_the_exception(make_repo):
    out, text = _fixed(make_repo, {"checks.py": ENSURE, "test_checks.py": ENSURE_TESTS}, "checks.py")
    assert text == ENSURE_FIXED


def test_fix_returns_early_before_the_division(make_repo):
    """``early_return`` writes the guard before the division; the angelic probe (issue 21) widens
    the guard above it to ``values is None or not values``: the same function."""
    out, text = _fixed(make_repo, {"stats.py": AVERAGE, "test_stats.py": AVERAGE_TESTS}, "stats.py")
    assert text in (AVERAGE_FIXED, AVERAGE.replace("if values is None:", "if values is None or not values:"))


def test_fix_normalizes_as_the_sibling_does(make_repo):
    out, text = _fixed(make_repo, {"tags.py": TAGS, "test_tags.py": TAGS_TESTS}, "tags.py")
    assert "title = title.strip().lower()" in text.split("def tag_key", 1)[1]


# -- overfit ------------------------------------------------------------------------
def test_a_handler_that_only_gives_a_constant_is_suspect_unless_the_test_expects_it():
    old = "def port(text):\n    value = int(text)\n    return value\n"
    new = "def port(text):\n    try:\n        value = int(text)\n    except ValueError:\n        return None\n    return value\n"
    patch = Patch.from_texts({"m.py": (old, new)}, "wrap")
    assert "only gives None" in static_suspicion(patch, {"m.py": new}, "def test_a():\n    assert port('x') == 0\n")
    assert static_suspicion(patch, {"m.py": new}, "def test_a():\n    assert port('x') is None\n") == ""
    empty = new.replace("return None", "value = []")
    patch = Patch.from_texts({"m.py": (old, empty)}, "wrap")
    assert "only gives []" in static_suspicion(patch, {"m.py": empty}, "def test_a():\n    assert port('x') == [0]\n")
    assert static_suspicion(patch, {"m.py": empty}, 'def test_a():\n    assert port("x") == []\n') == ""
    swallowed = new.replace("return None", "pass")
    patch = Patch.from_texts({"m.py": (old, swallowed)}, "wrap")
    assert static_suspicion(patch, {"m.py": swallowed}, "def test_a():\n    assert port('x') is None\n")
    # a handler that skips the item or computes its fallback is not called suspect
    skip = PORTS_FIXED
    assert static_suspicion(Patch.from_texts({"m.py": (PORTS, skip)}, "wrap"), {"m.py": skip}, PORTS_TESTS) == ""
