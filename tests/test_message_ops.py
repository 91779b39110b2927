"""The message operators (``harness.generators.message_ops``, issue 21): candidates read from
the failing tests' own messages and frames, each family on a bug written for it (messages as
pytest prints them), their rank before every blind mutant, the overfit checks on them, and
end to end through ``loopwright fix`` on real repositories."""

from __future__ import annotations

import json
from pathlib import Path

from harness.core.context import Context, SuspiciousLocation
from harness.core.overfit import static_suspicion
from harness.core.plausible import NATURALNESS
from harness.core.task import Task
from harness.evaluators.verdict import Frame, TestResult
from harness.generators.message_ops import MESSAGE_PRIORS, message_mutants
from harness.generators.mutant import Mutant
from harness.generators.templates import MESSAGE_FIRST, TemplateGenerator
from sandbox.patch import Patch
from tests.conftest import fix_offline
from tests.mutant_checks import src

ROOT = Path(__file__).resolve().parents[1]
SITE = "/usr/lib/python3/site-packages/_pytest/runner.py"  # a frame outside the repository


def _context(root: Path, files: dict[str, str], failing: dict[str, tuple[str, list[tuple[str, int]]]],
             located: list[tuple[str, int, float]] = ()) -> Context:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    results = {test_id: TestResult(test_id, "failed", message,
                                   (Frame(SITE, 361, "from_call"), *(Frame(path, line) for path, line in frames)))
               for test_id, (message, frames) in failing.items()}
    return Context(root, Task("failing_tests", results), [SuspiciousLocation(*loc) for loc in located],
                   ("test_*.py", "tests/*"))


def _read(root: Path):
    def read(rel: str) -> str | None:
        try:
            return (root / rel).read_text()
        except OSError:
            return None
    return read


def _offered(tmp_path: Path, files, failing, located=()) -> list[tuple[float, Mutant]]:
    context = _context(tmp_path, files, failing, located)
    return message_mutants(context, _read(tmp_path))


def _texts(got: list[tuple[float, Mutant]]) -> list[str]:
    return [mutant.new_source for _, mutant in got]


# -- 1. got multiple values for argument ------------------------------------------------
REGISTRY = src('''
    class Registry:
        def register(self, *args, **kwargs):
            return dict(kwargs)

        def update(self, *args, **kwargs):
            return dict(kwargs)


    class Mapping:
        def merge(self, other=(), **kwds):
            return dict(other, **kwds)


    def plain(self, value):
        return value
''')


def test_a_keyword_clashing_with_a_positional_parameter_makes_it_positional_only(tmp_path):
    message = "TypeError: Registry.register() got multiple values for argument 'self'"
    got = _offered(tmp_path, {"registry.py": REGISTRY, "test_registry.py": "from registry import Registry\n"},
                   {"test_registry.py::test_self_key": (message, [("test_registry.py", 5)])})
    texts = _texts(got)
    alone = REGISTRY.replace("def register(self, *args", "def register(self, /, *args")
    both = alone.replace("def update(self, *args", "def update(self, /, *args")
    assert texts[0] == alone and got[0][1].operator == "positional_only"
    assert both in texts  # the same-signature sibling as one candidate, after the definition named
    assert texts.index(both) > 0


def test_positional_only_goes_after_a_default_and_never_where_no_kwargs_take_the_key(tmp_path):
    message = "TypeError: Mapping.merge() got multiple values for argument 'self'"
    files = {"registry.py": REGISTRY, "test_r.py": "import registry\n"}
    got = _offered(tmp_path, files, {"test_r.py::test_m": (message, [("test_r.py", 3)])})
    assert _texts(got)[0] == REGISTRY.replace("def merge(self, other=(), **kwds)", "def merge(self, other=(), /, **kwds)")
    assert REGISTRY.replace("def merge(self, other=()", "def merge(self, /, other=()") in _texts(got)
    message = "TypeError: plain() got multiple values for argument 'self'"
    assert _offered(tmp_path, files, {"test_r.py::test_m": (message, [("test_r.py", 3)])}) == []


# -- 2. a name the test asks for --------------------------------------------------------
USERS = src('''
    def fetch_user(user_id):
        return {"id": user_id}


    def fetch_all(ids):
        return [fetch_user(user_id) for user_id in ids]


    def shadow(fetch_user):
        return fetch_user + 1


    __all__ = ["fetch_user", "fetch_all"]
''')


def test_a_module_attribute_the_test_asks_for_renames_the_closest_name_or_aliases_it(tmp_path):
    message = "AttributeError: module 'app.users' has no attribute 'fetch_users'"
    got = _offered(tmp_path, {"src/app/__init__.py": "", "src/app/users.py": USERS, "test_users.py": "import app.users\n"},
                   {"test_users.py::test_fetch": (message, [("test_users.py", 4)])})
    renamed = (USERS.replace("def fetch_user(", "def fetch_users(").replace("[fetch_user(user_id)", "[fetch_users(user_id)")
               .replace('["fetch_user"', '["fetch_users"'))
    assert "def shadow(fetch_user):\n    return fetch_user + 1" in renamed  # a parameter of that name hides it
    aliased = USERS.replace('{"id": user_id}\n', '{"id": user_id}\nfetch_users = fetch_user\n')
    assert _texts(got)[:2] == [renamed, aliased]
    assert [mutant.operator for _, mutant in got[:2]] == ["rename_to_asked", "alias_asked"]


def test_a_private_name_is_compared_without_its_leading_underscore(tmp_path):
    # can_colorize vs _can_do_colour: 0.69 with the underscore (below MIN_RATIO), 0.72 without
    colour = "def _can_do_colour(*, no_color=None):\n    return not no_color\n\n\ndef colored(text):\n" \
             "    return text if not _can_do_colour() else '<' + text + '>'\n"
    got = _offered(tmp_path, {"tc/__init__.py": "", "tc/termcolor.py": colour, "test_tc.py": "from tc import termcolor\n"},
                   {"test_tc.py::test_cache": ("AttributeError: module 'tc.termcolor' has no attribute 'can_colorize'",
                                               [("test_tc.py", 4)])})
    assert got and got[0][1].operator == "rename_to_asked"
    assert got[0][1].new_source == colour.replace("_can_do_colour", "can_colorize")


def test_an_import_of_a_missing_name_and_the_interpreters_hint(tmp_path):
    dates = src('''
        def parse_dates(text):
            return text.split("-")
    ''')
    message = "ImportError: cannot import name 'parse_date' from 'dates' (/tmp/x/dates.py)"
    got = _offered(tmp_path, {"dates.py": dates}, {"test_dates.py": (message, [("test_dates.py", 1)])})
    assert _texts(got)[0] == dates.replace("parse_dates", "parse_date")
    # nothing close enough: no candidate; the interpreter's `Did you mean` counts whatever the ratio
    message = "AttributeError: module 'dates' has no attribute 'tokenize'"
    assert _offered(tmp_path, {"dates.py": dates}, {"test_dates.py::t": (message, [])}) == []
    hinted = message + ". Did you mean: 'parse_dates'?"
    assert _texts(_offered(tmp_path, {"dates.py": dates}, {"test_dates.py::t": (hinted, [])}))[0] == (
        dates.replace("parse_dates", "tokenize"))


CART = src('''
    class Cart:
        def __init__(self):
            self.items = []

        def totals(self):
            return sum(self.items)

        def describe(self):
            return f"{len(self.items)} items, {self.totals()}"
''')


def test_a_method_the_test_asks_an_object_for_renames_the_closest_member(tmp_path):
    message = "AttributeError: 'Cart' object has no attribute 'total'"
    got = _offered(tmp_path, {"shop/cart.py": CART, "test_cart.py": "from shop.cart import Cart\n"},
                   {"test_cart.py::test_total": (message, [("test_cart.py", 5)])})
    assert _texts(got)[0] == CART.replace("def totals(", "def total(").replace("self.totals()", "self.total()")
    assert CART.replace("return sum(self.items)\n", "return sum(self.items)\n    total = totals\n") in _texts(got)


def test_a_private_attribute_asked_for_by_its_public_name_gets_a_read_only_property_first(tmp_path):
    parser = src('''
        class Parser:
            def __init__(self, format):
                self._format = format

            def parse(self, text):
                return self._format.split() == text.split()
    ''')
    message = "AttributeError: 'Parser' object has no attribute 'format'"
    got = _offered(tmp_path, {"parser.py": parser, "test_p.py": "from parser import Parser\n"},
                   {"test_p.py::test_format": (message, [("test_p.py", 4)])})
    prop = parser.replace("        self._format = format\n", "        self._format = format\n\n    @property\n"
                          "    def format(self):\n        return self._format\n")
    assert _texts(got) == [prop, parser.replace("self._format", "self.format")]


# -- 3. an exception escaped a try / a handler swallowed the expected one --------------------
STREAMS = src('''
    import io

    from errors import ParseError


    def rewind(stream):
        try:
            stream.seek(0)
        except io.UnsupportedOperation:
            pass
        return stream.read()


    def number(text):
        try:
            return int(text)
        except ParseError:
            return None


    def lookup(table, key):
        try:
            return table[key]
        except KeyError:
            return None
''')
ERRORS = "class ParseError(ValueError):\n    pass\n"


def test_an_exception_that_escaped_a_try_widens_its_handler_to_the_shared_base(tmp_path):
    files = {"streams.py": STREAMS, "errors.py": ERRORS}
    message = "OSError: [Errno 29] Illegal seek"
    got = _offered(tmp_path, files, {"test_s.py::test_pipe": (message, [("test_s.py", 9), ("streams.py", 8)])})
    assert _texts(got)[:2] == [STREAMS.replace("except io.UnsupportedOperation:", "except OSError:"),
                               STREAMS.replace("except io.UnsupportedOperation:", "except (io.UnsupportedOperation, OSError):")]
    # the handler did nothing before and does the same now, for more types: no error handling deleted
    widened = got[0][1].new_source
    patch = Patch.from_texts({"streams.py": (STREAMS, widened)}, "widened", {"operator": "except_base"})
    assert static_suspicion(patch, {"streams.py": widened}, "") == ""
    # a class of the repository: its bases are read (ParseError is a ValueError)
    message = "ValueError: invalid literal for int() with base 10: 'x'"
    got = _offered(tmp_path, files, {"test_s.py::test_num": (message, [("test_s.py", 3), ("streams.py", 16)])})
    assert _texts(got)[0] == STREAMS.replace("except ParseError:", "except ValueError:")


def test_an_unrelated_escape_gets_only_a_low_ranked_tuple_and_a_caught_one_nothing(tmp_path):
    files = {"streams.py": STREAMS, "errors.py": ERRORS}
    message = "TypeError: unhashable type: 'list'"
    got = _offered(tmp_path, files, {"test_s.py::t": (message, [("test_s.py", 3), ("streams.py", 23)])})
    assert _texts(got) == [STREAMS.replace("except KeyError:", "except (KeyError, TypeError):")]
    assert got[0][0] < 0.5  # below every related edit (never `except Exception`)
    message = "KeyError: 'a'"  # the handler catches it: the frames went through it another way
    assert _offered(tmp_path, files, {"test_s.py::t": (message, [("test_s.py", 3), ("streams.py", 23)])}) == []


PARSE = src('''
    def to_int(text):
        try:
            return int(text)
        except (ValueError, TypeError):
            return None


    def to_float(text):
        try:
            value = float(text)
        except Exception:
            value = 0.0
        return value
''')


def test_did_not_raise_narrows_the_handler_that_swallowed_it(tmp_path):
    for message in ("Failed: DID NOT RAISE <class 'ValueError'>", "Failed: DID NOT RAISE ValueError"):
        got = _offered(tmp_path, {"parse.py": PARSE}, {"test_p.py::test_bad": (message, [("test_p.py", 5)])},
                       [("parse.py", 5, 1.0), ("parse.py", 3, 0.7)])
        assert _texts(got)[0] == PARSE.replace("except (ValueError, TypeError):", "except (TypeError):")
        assert got[0][1].operator == "except_narrow"
    got = _offered(tmp_path, {"parse.py": PARSE}, {"test_p.py::t": ("Failed: DID NOT RAISE ValueError", [])},
                   [("parse.py", 12, 1.0)])
    texts = _texts(got)
    assert texts[0] == PARSE.replace("    except Exception:\n", "    except ValueError:\n        raise\n    except Exception:\n")
    unwrapped = PARSE.replace("    try:\n        value = float(text)\n    except Exception:\n        value = 0.0\n",
                              "    value = float(text)\n")
    assert texts[1] == unwrapped and got[1][1].operator == "except_drop"


def test_a_swallowed_exception_of_the_repository_is_found_through_a_relative_import(tmp_path):
    styles = src('''
        from .errors import ParseError


        def parse(text, styles):
            error = None
            for style in styles:
                try:
                    return style(text)
                except ParseError as exc:
                    error = exc
            return None
    ''')
    files = {"pkg/__init__.py": "", "pkg/errors.py": ERRORS, "pkg/styles.py": styles}
    got = _offered(tmp_path, files, {"tests/test_p.py::t": ("Failed: DID NOT RAISE ParseError", [])},
                   [("pkg/styles.py", 10, 1.0)])
    reraise = styles.replace("        except ParseError as exc:\n", "        except ParseError:\n            raise\n"
                             "        except ParseError as exc:\n")
    assert reraise not in _texts(got)  # the handler catches exactly ParseError: nothing to put before it
    assert _texts(got)[0] == styles.replace("        try:\n            return style(text)\n        except ParseError as exc:\n"
                                            "            error = exc\n", "        return style(text)\n")
    # the expected exception is a subclass of what the handler catches: `except E: raise` first
    broad = styles.replace("except ParseError as exc", "except ValueError as exc")
    got = _offered(tmp_path, {**files, "pkg/styles.py": broad},
                   {"tests/test_p.py::t": ("Failed: DID NOT RAISE ParseError", [])}, [("pkg/styles.py", 10, 1.0)])
    assert _texts(got)[0] == broad.replace("        except ValueError as exc:\n", "        except ParseError:\n"
                                           "            raise\n        except ValueError as exc:\n")


# -- 4. string literals from an assertion diff ---------------------------------------------
GREET = src('''
    SUFFIX = "!!"


    def greet(name, formal=True):
        if not formal:
            return "Hello, dear " + name.lower()
        return "Hello, dear " + name + SUFFIX


    def label(count):
        return f"Total: {count} itemss"


    def unrelated():
        return "Hello, dear reader"
''')
HELLO = GREET.replace('"Hello, dear " + name + SUFFIX', '"Hello, " + name + SUFFIX')
INFORMAL = GREET.replace('"Hello, dear " + name.lower()', '"Hello, " + name.lower()')


def test_an_assertion_diff_removes_the_extra_word_from_the_literal_that_holds_it(tmp_path):
    message = "AssertionError: assert 'Hello, dear Bob!!' == 'Hello, Bob!!'\n  \n  - Hello, Bob!!\n  + Hello, dear Bob!!\n  ?        +++++"
    got = _offered(tmp_path, {"greet.py": GREET}, {"test_g.py::test_greet": (message, [("test_g.py", 4)])},
                   [("greet.py", 7, 1.0), ("greet.py", 5, 0.5)])
    # both literals explain the whole diff; the one on the line the failing test ran first
    assert _texts(got) == [HELLO, INFORMAL]
    assert got[0][0] > got[1][0] and all(mutant.operator == "literal_from_diff" for _, mutant in got)
    # a literal explaining less than half of the diff is no candidate: `"!!"` -> `"!"` explains 1 of 6
    message = "AssertionError: assert 'Hello, dear Bob!!' == 'Hello, Bob!'\n  \n  - Hello, Bob!\n  + Hello, dear Bob!!"
    got = _offered(tmp_path, {"greet.py": GREET}, {"test_g.py::test_greet": (message, [("test_g.py", 4)])},
                   [("greet.py", 7, 1.0)])
    assert _texts(got)[0] == HELLO and not any('SUFFIX = "!"\n' in text for text in _texts(got))


def test_a_short_literal_rewritten_whole_is_no_candidate(tmp_path):
    """`>` -> `>true` (the value between two markup literals) and a message replaced by another
    keep less than half of the literal: a guess, not the diff's word."""
    markup = 'def tag(name, value):\n    return "<" + name + ">" + value + "</" + name + ">"\n'
    message = "AssertionError: assert '<a></a>' == '<a>true</a>'\n  \n  - <a>true</a>\n  ?    ++++\n  + <a></a>"
    assert _offered(tmp_path, {"markup.py": markup}, {"test_m.py::t": (message, [("test_m.py", 2)])},
                    [("markup.py", 2, 1.0)]) == []
    error = 'def check(value):\n    raise ValueError("Invalid value for reindent: " + repr(value))\n'
    message = "AssertionError: assert 'Invalid value for reindent: 1' == 'indent_width must be positive'"
    assert _offered(tmp_path, {"check.py": error}, {"test_c.py::t": (message, [("test_c.py", 2)])},
                    [("check.py", 2, 1.0)]) == []


def test_an_f_string_and_a_test_that_puts_the_expected_value_first(tmp_path):
    (tmp_path / "test_g.py").write_text('def test_label():\n    assert "Total: 3 items" == label(3)\n')
    message = "AssertionError: assert 'Total: 3 items' == 'Total: 3 itemss'\n  \n  - Total: 3 itemss\n  ?               -\n  + Total: 3 items"
    got = _offered(tmp_path, {"greet.py": GREET}, {"test_g.py::test_label": (message, [("test_g.py", 2)])},
                   [("greet.py", 11, 1.0)])
    assert _texts(got) == [GREET.replace('f"Total: {count} itemss"', 'f"Total: {count} items"')]


def test_message_candidates_come_before_every_mutant_and_have_a_naturalness_class(tmp_path):
    message = "AssertionError: assert 'Hello, dear Bob!!' == 'Hello, Bob!!'\n  \n  - Hello, Bob!!\n  + Hello, dear Bob!!"
    context = _context(tmp_path, {"greet.py": GREET}, {"test_g.py::test_greet": (message, [("test_g.py", 4)])},
                       [("greet.py", 7, 1.0), ("greet.py", 11, 0.5)])
    ranked = TemplateGenerator().candidates(context, limit=8)
    assert [mutant.operator for _, mutant in ranked[:2]] == ["literal_from_diff"] * 2
    assert [mutant.new_source for _, mutant in ranked[:2]] == [HELLO, INFORMAL] and ranked[1][0] > MESSAGE_FIRST
    assert all(score < MESSAGE_FIRST for score, _ in ranked[2:]) and len(ranked) == 8
    assert set(MESSAGE_PRIORS) <= set(NATURALNESS)


def test_the_overfit_checks_see_a_message_candidate_that_special_cases_the_tests_literal(tmp_path):
    """Two literals hold the wrong word: the returned one is the fix; the compared one puts the
    failing test's literal into a comparison, which :func:`static_suspicion` calls out."""
    roles = 'def normalize(role):\n    if role == "admn" or role == "root":\n        return "admn"\n    return role\n'
    test = 'from roles import normalize\n\n\ndef test_root():\n    assert normalize("root") == "admin"\n'
    message = "AssertionError: assert 'admn' == 'admin'\n  \n  - admin\n  ?    +\n  + admn"
    got = _offered(tmp_path, {"roles.py": roles, "test_roles.py": test},
                   {"test_roles.py::test_root": (message, [("test_roles.py", 5)])}, [("roles.py", 3, 1.0), ("roles.py", 2, 0.8)])
    by_text = {mutant.new_source: mutant for _, mutant in got}
    right, compared = roles.replace('return "admn"', 'return "admin"'), roles.replace('role == "admn"', 'role == "admin"')
    assert set(by_text) == {right, compared}

    def suspicion(new: str) -> str:
        patch = Patch.from_texts({"roles.py": (roles, new)}, by_text[new].description, {"operator": "literal_from_diff"})
        return static_suspicion(patch, {"roles.py": new}, test)

    assert "special-cases" in suspicion(compared) and suspicion(right) == ""


# -- end to end --------------------------------------------------------------------------


def test_loopwright_fix_makes_self_positional_only(make_repo):
    test = src('''
        from registry import Registry


        def test_self_is_a_key():
            assert Registry().register(self=1, name="x") == {"self": 1, "name": "x"}


        def test_plain_keys():
            assert Registry().update(a=1) == {"a": 1}
    ''')
    out, _, _ = fix_offline(make_repo, {"registry.py": REGISTRY, "test_registry.py": test})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+    def register(self, /, *args, **kwargs):" in out["patch"]


def test_loopwright_fix_renames_to_the_asked_name_but_keeps_an_import_elsewhere_working(make_repo):
    """The rename breaks `report.py`'s import of the old name: the full suite rejects it, and
    the alias is the fix."""
    report = "from users import fetch_user\n\n\ndef title(user_id):\n    return f\"user {fetch_user(user_id)['id']}\"\n"
    test = src('''
        import report
        import users


        def test_fetch_users():
            assert users.fetch_users(3) == {"id": 3}


        def test_report():
            assert report.title(2) == "user 2"
    ''')
    out, root, _ = fix_offline(make_repo, {"users.py": USERS, "report.py": report, "test_users.py": test})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+fetch_users = fetch_user" in out["patch"] and "-def fetch_user" not in out["patch"]
    tried = [json.loads(line) for line in next((root / ".git" / "loopwright" / "runs").iterdir()).joinpath(
        "trajectory.jsonl").read_text().splitlines()]
    assert "renamed `fetch_users`" in json.dumps(tried)  # the rename was tried first, and rejected


def test_loopwright_fix_widens_the_handler_the_exception_escaped(make_repo):
    test = src('''
        import io

        from streams import rewind


        class Pipe(io.RawIOBase):
            def readable(self):
                return True

            def seek(self, *args):
                raise OSError(29, "Illegal seek")

            def read(self, size=-1):
                return b"data"


        def test_pipe_cannot_seek():
            assert rewind(Pipe()) == b"data"


        def test_file_rewinds():
            buffer = io.BytesIO(b"abc")
            buffer.read()
            assert rewind(buffer) == b"abc"
    ''')
    out, _, _ = fix_offline(make_repo, {"streams.py": STREAMS, "errors.py": ERRORS, "test_streams.py": test})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+    except OSError:" in out["patch"]


def test_loopwright_fix_removes_the_extra_word_the_assertion_diff_shows(make_repo):
    test = src('''
        from greet import greet, label


        def test_greet():
            assert greet("Bob") == "Hello, Bob!!"


        def test_informal():
            assert greet("Ann", formal=False) == "Hello, dear ann"


        def test_label():
            assert label(2) == "Total: 2 itemss"
    ''')
    out, _, _ = fix_offline(make_repo, {"greet.py": GREET, "test_greet.py": test})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert '+    return "Hello, " + name + SUFFIX' in out["patch"]
