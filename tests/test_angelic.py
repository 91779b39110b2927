"""The angelic probe (``harness.core.angelic``, issue 21): a condition forced the other way in a
real pytest run says where the fault is, and the expressions in scope that take the values the
forcing needed become candidates (``harness.generators.angelic_ops``)."""

from __future__ import annotations

import ast
import time
from dataclasses import replace
from pathlib import Path

from harness.core.angelic import _schedules, synthesize
from harness.core.angelic_points import Point, _exits, _walk_over, conditions_at, find_points, probe_patch
from harness.core.angelic_grammar import negate, predicates
from harness.core.context import AngelicFact, Context, SuspiciousLocation
from harness.core.localize import localize
from harness.core.task import Task
from harness.evaluators.testrun import TestRun
from harness.generators.angelic_ops import angelic_mutants, fact_mutants
from harness.generators.templates import TemplateGenerator
from harness.core.validate import Validator

from sandbox.worktree import Worktree, open_repo
from tests.test_overfit import _validator

ORDERS = '''\
class Order:
    """One order: its amount in cents, and whether it was refunded."""

    def __init__(self, amount, refunded=False):
        self.amount = amount
        self.refunded = refunded


def refunds(orders):
    """The cents paid back."""
    return sum(o.amount for o in orders if o.refunded)


def revenue(orders):
    """The cents kept: positive amounts of the orders not refunded."""
    total = 0
    for order in orders:
        if order.amount > 0:
            total += order.amount
    return total
'''
ORDERS_TESTS = '''\
from orders import Order, refunds, revenue


def test_revenue_adds_amounts():
    assert revenue([Order(100), Order(250)]) == 350


def test_revenue_ignores_zero_and_negative_amounts():
    assert revenue([Order(100), Order(0), Order(-5)]) == 100


def test_refunds():
    assert refunds([Order(100, refunded=True), Order(7)]) == 100


def test_refunded_orders_bring_no_revenue():
    assert revenue([Order(100), Order(40, refunded=True)]) == 100
'''
#: a condition with a side effect: the probe must evaluate it once, as the code does
TOKENS = '''\
def words(tokens):
    """The tokens up to the first blank one, without the separators."""
    it = iter(tokens)
    out = []
    while (tok := next(it, None)) is not None:
        if tok == ",":
            continue
        out.append(tok)
    return out
'''
TOKENS_TESTS = '''\
from tokens import words


def test_separators_are_dropped():
    assert words(["a", ",", "b"]) == ["a", "b"]


def test_a_blank_token_ends_the_words():
    assert words(["a", "", "b"]) == ["a"]
'''


def test_the_grammar_copies_renames_and_builds_conditions_in_scope():
    tree = ast.parse(ORDERS)
    got = predicates(tree, 18, tree.body[2].body[2].body[0].test)
    assert "order.amount > 0" not in got  # the statement's own test
    assert got.index("order.refunded") < got.index("orders")  # a copied check, renamed, first
    assert {"order", "order is None", "total", "order.amount", "order.amount < total", "total > 0"} <= set(got)
    assert all(ast.parse(p, mode="eval") for p in got)
    # names the function cannot see are never used: `o` is the comprehension's
    assert not any("o." in p.replace("order.", "").replace("orders.", "") for p in got)


def test_negations_read_as_a_person_writes_them():
    assert negate("x is None") == "x is not None"
    assert negate("a < b") == "a >= b"
    assert negate("not done") == "done"
    assert negate("k in seen") == "k not in seen"
    assert negate("order.refunded") == "not order.refunded"
    assert negate("a and b") == "not (a and b)"


def test_points_are_the_suspicious_conditions_and_statements_and_the_probe_patch_keeps_lines():
    locs = [SuspiciousLocation("orders.py", 19, 0.9), SuspiciousLocation("orders.py", 18, 0.8),
            SuspiciousLocation("orders.py", 16, 0.5), SuspiciousLocation("test_orders.py", 5, 1.0)]
    points = find_points(locs, {"orders.py": ORDERS}.get, ("test_*.py",))
    assert [(p.line, p.kind, p.exit) for p in points] == [
        (18, "if", ""), (19, "stmt", ""), (16, "stmt", ""), (19, "exit", "continue"), (19, "exit", "break"),
        (19, "exit", "return total")]
    patch = probe_patch(points, {"orders.py": ORDERS}.get)
    assert patch is not None
    new = patch.diff
    assert "+        if __lw_probe__(4, (order.amount > 0)):" in new  # ids in the order met
    assert "+            if __lw_probe__(3, True): total += order.amount" in new
    assert "+    if __lw_probe__(5, True): total = 0" in new
    assert ("+            if __lw_probe__(0, False): continue\n+            if __lw_probe__(1, False): break\n"
            "+            if __lw_probe__(2, False): return total\n") in new
    assert patch.removed == 3 and patch.added == 6  # the exits are new lines, the rest stays on its line


def test_early_exits_are_the_loop_s_and_the_function_s_own():
    src = ("def f(xs, limit):\n    out = []\n    for x in xs:\n        out.append(x)\n"
           "        if len(out) > limit:\n            return None\n    def g():\n        return 5\n"
           "    return out\n\n\ndef h(xs):\n    for x in xs:\n        yield x\n")
    tree = ast.parse(src)
    stmt = {st.lineno: st for st in ast.walk(tree) if isinstance(st, ast.stmt)}
    assert _exits(tree, stmt[4]) == ["continue", "break", "return out", "return"]  # not g's `return 5`
    assert _exits(tree, stmt[2]) == ["return out", "return"]
    assert _exits(tree, stmt[14]) == ["continue", "break", "return"]  # a generator returns bare
    assert _exits(tree, stmt[6]) == [] and _exits(tree, stmt[9]) == []  # before a return


def _run(calls: dict) -> TestRun:
    return TestRun(calls=calls)


def test_synthesis_keeps_every_evaluation_the_passing_tests_made():
    p = Point(0, "m.py", 3, "if", 0, 0, ("a", "b", "c"))
    # forced false (C and Q): Q false where forced; true where C held in the other evaluations
    forced = _run({"t::fail": [[0, True, True, "110"], [0, False, False, "000"]]})
    record = _run({"t::pass": [[0, True, False, "011"], [0, False, False, "111"]]})
    assert synthesize(p, False, forced, record, ["t::fail"], ["t::pass"]) == (["not a", "c"], 1)
    # no forced evaluation, no fact; a predicate that raised never matches
    assert synthesize(p, False, _run({"t::fail": [[0, False, False, "000"]]}), record, ["t::fail"], ["t::pass"])[0] == []
    record_err = _run({"t::pass": [[0, True, False, "e1e"]]})
    assert synthesize(p, False, forced, record_err, ["t::fail"], ["t::pass"])[0] == []
    # no other evaluation constrains Q: every expression false there fits, support 0
    assert synthesize(p, False, forced, _run({}), ["t::fail"], []) == (["not a", "not b", "c"], 0)
    # forced true (C or Q): Q true where forced, false where C was false
    forced_or = _run({"t::fail": [[0, False, True, "011"]]})
    record_or = _run({"t::pass": [[0, False, False, "001"], [0, True, False, "111"]]})
    assert synthesize(p, True, forced_or, record_or, ["t::fail"], ["t::pass"]) == (["b"], 1)
    # records that are not the point's, or malformed, are ignored
    junk = _run({"t::fail": [[0, True, True, "110"], "x", [1, True, True, "000"], [0, True, True, "1"]]})
    assert synthesize(p, False, junk, record, ["t::fail"], ["t::pass"])[0] == ["not a", "c"]


def test_conditions_are_tests_filters_and_their_operands_and_probes_nest():
    src = ("def f(xs, a, b, c):\n    if a and (b or c):\n        return [x for x in xs if x > a]\n"
           "    return 1 if c else 2\n")
    tree = ast.parse(src)
    assert [ast.unparse(e) for e in conditions_at(tree, 2)] == ["a and (b or c)", "a", "b or c"]
    assert [ast.unparse(e) for e in conditions_at(tree, 3)] == ["x > a"]
    assert [ast.unparse(e) for e in conditions_at(tree, 4)] == ["c"]  # not `1 if c else 2`: not a truth value
    preds = ast.parse("def f(s, t):\n    return s.isidentifier() and not t\n\n\ndef g(s):\n    return s.name\n")
    assert [ast.unparse(e) for e in conditions_at(preds, 2)] == ["s.isidentifier() and (not t)", "s.isidentifier()", "not t"]
    assert conditions_at(preds, 6) == []
    points = find_points([SuspiciousLocation("m.py", 2, 1.0)], {"m.py": src}.get, ())
    conds = [p for p in points if p.kind == "if"]
    assert [p.test for p in conds] == ["a and (b or c)", "a", "b or c"]
    patch = probe_patch(conds, {"m.py": src}.get)
    assert "+    if __lw_probe__(0, (__lw_probe__(1, (a)) and (__lw_probe__(2, (b or c))))):" in patch.diff
    # an operand's fact edits that operand only, in parentheses unless `and` joins an `and`
    [m] = fact_mutants(AngelicFact("m.py", 2, "and", ("xs",), 1, test="b or c"), src)
    assert "    if a and ((b or c) and xs):\n" in m.new_source
    [m] = fact_mutants(AngelicFact("m.py", 2, "and", ("xs",), 1, test="a"), src)
    assert "    if a and xs and (b or c):\n" in m.new_source
    [m] = fact_mutants(AngelicFact("m.py", 3, "or", ("x == 0",), 1, test="x > a"), src)
    assert "[x for x in xs if x > a or x == 0]" in m.new_source
    assert fact_mutants(AngelicFact("m.py", 2, "and", ("xs",), 1, test="d"), src) == []  # not there


def test_guided_schedules_use_expressions_no_passing_evaluation_makes_true():
    p = Point(0, "m.py", 3, "exit", 0, 0, ("a", "b", "c"), "continue")
    # the failing test's three evaluations, and a passing test's two; all False (an exit not taken)
    record = _run({"t::fail": [[0, False, False, "100"], [0, False, False, "011"], [0, False, False, "001"]],
                   "t::pass": [[0, False, False, "001"], [0, False, False, "00e"]]})
    assert _schedules("all", p, True, record, ["t::fail"], ["t::pass"]) == [{"only": None}]
    assert _schedules("last", p, True, record, ["t::fail"], ["t::pass"]) == [{"only": {"t::fail": 3}}]
    # `a` holds at one failing evaluation and no passing one; `not b` holds at two of three, but
    # also at every passing one; `c` where a passing one is true or raised: never
    assert _schedules("guided", p, True, record, ["t::fail"], ["t::pass"]) == [{"when": [0, "1"]}, {"when": [1, "1"]}]
    assert _schedules("last", p, True, _run({"t::fail": [[0, False, False, "100"]]}), ["t::fail"], []) == []


def test_fact_edits_respect_precedence_lines_and_indentation():
    src = "def f(a, b, c):\n    if a or b:\n        return 1\n    x = [a,\n         b]\n    return x\n"
    [m] = fact_mutants(AngelicFact("m.py", 2, "and", ("c is not None",), 1), src)
    assert m.operator == "angelic_and" and "    if (a or b) and c is not None:\n" in m.new_source
    [m] = fact_mutants(AngelicFact("m.py", 2, "or", ("c if a else b",), 1), src)
    assert "    if a or b or (c if a else b):\n" in m.new_source  # a looser expression in parentheses
    [m] = fact_mutants(AngelicFact("m.py", 4, "guard", ("c",), 1), src)
    assert "    if c:\n        x = [a,\n             b]\n    return x\n" in m.new_source
    assert m.operator == "angelic_guard" and ast.parse(m.new_source)
    [m] = fact_mutants(AngelicFact("m.py", 4, "exit", ("not c",), 1, "return a"), src)
    assert "    if not c:\n        return a\n    x = [a,\n" in m.new_source and m.operator == "angelic_exit"
    assert fact_mutants(AngelicFact("m.py", 3, "and", ("c",), 1), src) == []  # no if there
    assert fact_mutants(AngelicFact("m.py", 2, "and", ("c ==",), 1), src) == []  # not an expression


def test_the_probe_finds_the_missing_conjunct_in_real_pytest_runs(make_repo):
    root = make_repo({"orders.py": ORDERS, "test_orders.py": ORDERS_TESTS})
    validator, wt = _validator(root)
    try:
        base = validator.baseline
        results = {t: base.results[t] for t in base.collected}
        locations = localize(base.root, results, base.coverage, ("test_*.py",))
        before = (Path(wt.path) / "orders.py").read_text()
        facts, done = validator.angelic_facts(locations, ("test_*.py",), time.monotonic() + 120)
        assert (Path(wt.path) / "orders.py").read_text() == before  # the slot is reset
        assert done["runs"] >= 2 and done["points"] >= 2
        first = facts[0]
        assert (first.path, first.line, first.kind, first.exprs[0], first.fixed) == (
            "orders.py", 18, "and", "not order.refunded", 1)
        # no time left: nothing is run
        assert validator.angelic_facts(locations, ("test_*.py",), time.monotonic()) == (
            [], {"points": 0, "runs": 0, "facts": 0, "seconds": 0.0})
    finally:
        validator.close()
        validator.evaluator.close()


def test_a_condition_with_a_side_effect_is_evaluated_once(make_repo):
    """The probe wraps the condition: without a force the tests see the code they saw."""
    root = make_repo({"tokens.py": TOKENS, "test_tokens.py": TOKENS_TESTS})
    validator, wt = _validator(root)
    try:
        base = validator.baseline
        assert base.failing == ["test_tokens.py::test_a_blank_token_ends_the_words"]
        points = find_points([SuspiciousLocation("tokens.py", 5, 1.0), SuspiciousLocation("tokens.py", 6, 0.9)],
                             lambda p: (Path(wt.path) / p).read_text(), ())
        points = [p for p in points if p.kind == "if"]
        assert [(p.line, p.kind) for p in points] == [(5, "if"), (6, "if")]
        patch = probe_patch(points, lambda p: (Path(wt.path) / p).read_text())
        wt.apply(patch)
        run = validator.evaluator.run(wt.path, capture={"kind": "angelic", "tests": base.collected, "points": [
            p.spec() for p in points]})
        wt.reset()
        assert {t: r.outcome for t, r in run.results.items()} == {t: r.outcome for t, r in base.results.items()}
        loop = [r for r in run.calls["test_tokens.py::test_separators_are_dropped"] if r[0] == points[0].id]
        assert [r[1] for r in loop] == [True, True, True, False]  # a, ",", b, then the end
    finally:
        validator.close()
        validator.evaluator.close()


def test_the_templates_search_tries_the_facts_first(tmp_path):
    (tmp_path / "orders.py").write_text(ORDERS)
    fact = AngelicFact("orders.py", 18, "and", ("not order.refunded", "order.amount > 50"), 1, support=2)
    ctx = Context(tmp_path, Task("failing_tests", failing={}), [SuspiciousLocation("orders.py", 19, 1.0),
                                                                SuspiciousLocation("orders.py", 18, 0.9)],
                  angelic=[fact])
    got = angelic_mutants(ctx, lambda p: (tmp_path / p).read_text())
    assert [m.description for _, m, _ in got] == [
        "line 18: `order.amount > 0` -> `order.amount > 0 and not order.refunded`",
        "line 18: `order.amount > 0` -> `order.amount > 0 and order.amount > 50`"]
    first = TemplateGenerator().generate(ctx).candidates[0]
    assert first.meta["operator"] == "angelic_and" and "and not order.refunded" in first.diff
    # a fact no passing evaluation supports waits among the mutants of its line
    weak = Context(tmp_path, ctx.task, ctx.locations, angelic=[replace(fact, support=0)])
    order = [m.operator for _, m in TemplateGenerator().candidates(weak)]
    assert order.index("angelic_and") > 10
    ctx.protected = ("orders.py",)
    assert angelic_mutants(ctx, lambda p: (tmp_path / p).read_text()) == []


def test_every_angelic_operator_has_a_naturalness_class():
    from harness.core.plausible import NATURALNESS
    from harness.generators.angelic_ops import ANGELIC_PRIORS

    assert set(ANGELIC_PRIORS) <= set(NATURALNESS)
    assert NATURALNESS["angelic_and"] < NATURALNESS["angelic_exit"]  # an expression part before a statement


def test_a_predicate_that_reaches_a_probe_again_is_not_recorded_twice():
    import builtins
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "loopwright_angelic_test", Path(__file__).resolve().parents[1] / "harness/evaluators/plugin/loopwright_angelic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    saved = getattr(builtins, "__lw_probe__", None)
    try:
        probe = module.Probe({"tests": ["t"], "points": [{"id": 0, "predicates": ["check(n - 1)", "n > 1"]}],
                              "force": {"point": 0, "to": False, "only": None, "when": [1, "1"]}})
        namespace: dict = {}
        exec("def check(n):\n    return __lw_probe__(0, n > 0)\n", namespace)
        probe.switch("t")
        assert namespace["check"](2) is False  # forced where `n > 1`
        assert namespace["check"](1) is True  # not forced: `n > 1` is false
        probe.switch("other")
        assert namespace["check"](5) is True  # outside the tests: untouched
        assert probe.stop() == {"t": [[0, True, True, "11"], [0, True, False, "00"]]}  # check(0) ran unprobed
    finally:
        if saved is None:
            delattr(builtins, "__lw_probe__")
        else:
            builtins.__lw_probe__ = saved


def test_failing_tests_that_hung_at_baseline_are_not_probed(make_repo):
    """Each probe run would wait for their time limit: with only those failing, nothing runs."""
    root = make_repo({"slow.py": "def wait(n):\n    while n > 0:\n        pass\n    return n\n",
                      "test_slow.py": "from slow import wait\n\n\ndef test_wait():\n    assert wait(1) == 0\n"})
    validator, _ = _validator(root)
    try:
        base = validator.baseline
        assert base.results["test_slow.py::test_wait"].outcome == "timeout"
        locations = [SuspiciousLocation("slow.py", 2, 1.0), SuspiciousLocation("slow.py", 3, 1.0)]
        facts, done = validator.angelic_facts(locations, (), time.monotonic() + 120)
        assert facts == [] and done["runs"] == 0
    finally:
        validator.close()
        validator.evaluator.close()


def test_the_probe_stops_at_its_time_cap_re_runs_included(make_repo, monkeypatch):
    """A probe run killed at the cap does not start its remaining tests again in new processes
    (the evaluator's deadline): twelve slow tests, a 2 s cap."""
    import harness.core.angelic as angelic

    slow = "".join(f"\n\ndef test_slow_{i}():\n    time.sleep(1.5)\n    assert pick(-1) == 0\n" for i in range(12))
    root = make_repo({"pick.py": "def pick(n):\n    if n < 0:\n        return n\n    return n\n",
                      "test_pick.py": "import time\n\nfrom pick import pick\n" + slow})
    validator, _ = _validator(root)
    try:
        monkeypatch.setattr(angelic, "MAX_SECONDS", 2.0)
        monkeypatch.setattr(angelic, "MAX_FAILING", 12)
        locations = [SuspiciousLocation("pick.py", 2, 1.0), SuspiciousLocation("pick.py", 3, 1.0)]
        facts, done = validator.angelic_facts(locations, (), time.monotonic() + 600)
        assert done["runs"] >= 1 and done["seconds"] < 8, done  # 13 s here without the deadline (re-runs)
    finally:
        validator.close()
        validator.evaluator.close()


DECORATED = '''\
import functools


@functools.lru_cache(maxsize=1 if FAST else 8)
def pick(xs, n):
    while n > 0 and xs:
        n -= 1
    ys = [x for x in xs if x and x > n]
    return n if n < 3 else (n > 1 and len(ys) > 2)
'''


def test_conditions_are_found_on_the_walk_pruned_to_the_line_as_on_the_whole_tree():
    tree = ast.parse(DECORATED)
    got = {line: [ast.unparse(e) for e in conditions_at(tree, line)] for line in range(1, 10)}
    assert got[4] == ["FAST"]  # a decorator's conditional expression, above the `def` line
    assert got[6] == ["n > 0 and xs", "n > 0", "xs"]
    assert got[8] == ["x and x > n", "x", "x > n"]
    assert got[9] == ["n < 3"]
    # the pruned walk is the whole walk's order, less only subtrees with nothing on the line:
    # every node with a position on the line, and every comprehension, is still met
    for source in (DECORATED, Path("harness/core/angelic_points.py").read_text()):
        tree = ast.parse(source)
        for line in range(1, source.count("\n") + 2):
            shared = (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)  # one node each: `Load()`, `And()`
            pruned = [n for n in _walk_over(tree, line) if not isinstance(n, shared)]
            kept = {id(n) for n in pruned}
            assert [n for n in ast.walk(tree) if id(n) in kept] == pruned
            assert all(id(n) in kept for n in ast.walk(tree)
                       if getattr(n, "lineno", None) == line or isinstance(n, ast.comprehension)
                       and any(e.lineno == line for e in n.ifs))


def test_the_forced_runs_share_every_idle_slot_and_find_the_same_facts(make_repo):
    root = make_repo({"orders.py": ORDERS, "test_orders.py": ORDERS_TESTS})
    validator, wt = _validator(root)
    second = Worktree.create(open_repo(root), "v2", None)
    pair = Validator(validator.evaluator, [wt, second], validator.baseline, ("tests/**", "test_*.py"), 40,
                     validator.evaluator.timeouts)
    used: list[str] = []
    run = pair._angelic_run

    def spy(slot, *args, **kw):
        used.append(str(slot.path))
        return run(slot, *args, **kw)

    pair._angelic_run = spy  # type: ignore[method-assign]
    try:
        base = validator.baseline
        results = {t: base.results[t] for t in base.collected}
        locations = localize(base.root, results, base.coverage, ("test_*.py",))
        alone, done_alone = validator.angelic_facts(locations, ("test_*.py",), time.monotonic() + 120)
        shared, done_shared = pair.angelic_facts(locations, ("test_*.py",), time.monotonic() + 120)
        assert shared == alone and shared  # the same facts, in the same order
        assert done_shared["runs"] == done_alone["runs"] >= 3
        assert set(used) == {str(wt.path), str(second.path)}  # both slots ran forced runs
        for slot in (wt, second):  # each slot is reset and given back
            assert (Path(slot.path) / "orders.py").read_text() == ORDERS
        assert pair._free.qsize() == 2
    finally:
        pair.close()
        validator.close()
        validator.evaluator.close()
