"""``message_members.member_edits`` (through ``message_ops.message_mutants``): a method
the failing test read as a value gets ``@property``, one called with one argument too many
and no ``self`` gets ``@staticmethod``; messages as Python and pytest print them, and end to
end through ``loopwright fix``."""

from __future__ import annotations

from pathlib import Path

from harness.core.context import Context, SuspiciousLocation
from harness.core.task import Task
from harness.evaluators.verdict import Frame, TestResult
from harness.generators.message_ops import message_mutants
from tests.conftest import fix_offline
from tests.mutant_checks import src

MONEY = src('''
    class Money:
        def __init__(self, cents):
            self.cents = cents

        def amount(self):
            return self.cents / 100

        def parse(text):
            return Money(int(text))

        @classmethod
        def zero(cls, currency):
            return cls(0)
''')


def offered(tmp_path: Path, message: str, frames=()) -> list[str]:
    (tmp_path / "money.py").write_text(MONEY)
    result = TestResult("test_money.py::test_it", "failed", message, tuple(Frame(p, n) for p, n in frames))
    context = Context(tmp_path, Task("failing_tests", {"test_money.py::test_it": result}),
                      [SuspiciousLocation("money.py", 3, 0.5)], ("test_*.py",))
    got = message_mutants(context, lambda rel: (tmp_path / rel).read_text() if (tmp_path / rel).is_file() else None)
    return [f"{m.operator}: {m.new_source.splitlines()[m.line - 1].strip()} / {m.new_source.splitlines()[m.line].strip()}"
            for _, m in got if m.operator in ("add_property", "add_staticmethod")]


def test_a_method_read_as_a_value_becomes_a_property(tmp_path):
    message = "AssertionError: assert <bound method Money.amount of <money.Money object at 0x7f00>> == 3.0"
    assert offered(tmp_path, message) == ["add_property: @property / def amount(self):"]


def test_pytest_explaining_the_method_by_its_name(tmp_path):
    message = ("AssertionError: assert amount == 3.0\n +  where amount = <money.Money object at 0x7fb705b0>.amount\n"
               " +    where <money.Money object at 0x7fb705b0> = Money(300)")
    assert offered(tmp_path, message) == ["add_property: @property / def amount(self):"]
    value = "AssertionError: assert 2.0 == 3.0\n +  where 2.0 = <money.Money object at 0x7fb705b0>.amount"
    assert offered(tmp_path, value) == []  # a value is shown by its repr: no method here


def test_a_method_without_self_becomes_static_and_one_with_cls_a_classmethod(tmp_path):
    message = "TypeError: Money.parse() takes 1 positional argument but 2 were given"
    assert offered(tmp_path, message, [("money.py", 9)]) == ["add_staticmethod: @staticmethod / def parse(text):"]


def test_no_decorator_without_such_a_message_or_on_a_decorated_method(tmp_path):
    assert offered(tmp_path, "AssertionError: assert 3 == 4") == []
    assert offered(tmp_path, "TypeError: Money.zero() takes 2 positional arguments but 3 were given") == []
    assert offered(tmp_path, "TypeError: Money.parse() takes 1 positional argument but 3 were given") == []


SHAPES = src('''
    """Shapes with areas."""
    import math


    class Circle:
        def __init__(self, radius):
            self.radius = radius

        def area(self):
            return math.pi * self.radius ** 2

        def scaled(self, factor):
            return Circle(self.radius * factor)
''')
SHAPES_TESTS = src('''
    import math

    from shapes import Circle


    def test_scaled():
        assert Circle(2).scaled(3).radius == 6


    def test_area_is_a_value():
        assert Circle(1).area == math.pi
''')


def test_loopwright_fix_makes_the_area_a_property(make_repo):
    out, _, _ = fix_offline(make_repo, {"shapes.py": SHAPES, "test_shapes.py": SHAPES_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+    @property\n     def area(self):" in out["patch"], out["patch"]


def test_a_parameter_renamed_to_the_keyword_the_test_passes(tmp_path):
    source = src('''
        def load(text, strict_mode=False):
            if strict_mode and not text:
                raise ValueError(text)
            return text


        class Reader:
            def read(self, size=None):
                return size
    ''')
    (tmp_path / "loader.py").write_text(source)

    def renamed(message: str) -> list[str]:
        result = TestResult("test_loader.py::test_it", "failed", message, (Frame("test_loader.py", 3),))
        context = Context(tmp_path, Task("failing_tests", {"test_loader.py::test_it": result}),
                          [SuspiciousLocation("loader.py", 2, 0.5)], ("test_*.py",))
        got = message_mutants(context, lambda rel: (tmp_path / rel).read_text() if (tmp_path / rel).is_file() else None)
        return [m.new_source for _, m in got if m.operator == "rename_param"]

    assert renamed("TypeError: load() got an unexpected keyword argument 'strict'") == [
        source.replace("strict_mode", "strict")]
    assert renamed("TypeError: Reader.read() got an unexpected keyword argument 'sizes'") == [
        source.replace("size=None", "sizes=None").replace("return size", "return sizes")]
    assert renamed("TypeError: load() got an unexpected keyword argument 'encoding'") == []  # nothing close


QUERY = src('''
    """A tiny query builder."""


    class Query:
        def __init__(self, table):
            self.table, self.filters = table, []

        def where(self, condition):
            self.filters.append(condition)

        def sql(self):
            clause = " AND ".join(self.filters)
            return f"SELECT * FROM {self.table}" + (f" WHERE {clause}" if clause else "")
''')
QUERY_TESTS = src('''
    from query import Query


    def test_plain():
        assert Query("users").sql() == "SELECT * FROM users"


    def test_filters_chain():
        assert Query("users").where("age > 3").where("name = 'x'").sql() == \\
            "SELECT * FROM users WHERE age > 3 AND name = 'x'"
''')


def test_loopwright_fix_lets_the_builder_chain(make_repo):
    out, _, _ = fix_offline(make_repo, {"query.py": QUERY, "test_query.py": QUERY_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "         self.filters.append(condition)\n+        return self\n" in out["patch"], out["patch"]
