"""The house rules of the layout (AGENTS.md), read from the code itself: imports point down
only and never in a circle, no module over 400 lines, a function over 60 lines (its
docstring not counted) says why in a comment that contains "on purpose", the run-state
types hold typed records (no ``list[dict]``), and no stop reason is compared as a string
outside ``harness/core/stop.py``."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("harness", "sandbox", "evals", "loops", "prompts", "loopwright")
# Rooms from the top down; a module may import its own room or a lower one.
RANK = {
    "loopwright": 7,
    "harness.cli": 6, "evals": 6,
    "harness.work": 5,
    "harness.generators": 4,
    "harness.core": 3,
    "loops": 2, "prompts": 2, "harness.evaluators": 2,
    "sandbox": 1,
}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


@functools.cache
def _modules() -> dict[str, Path]:
    out = {}
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def _imports(name: str, path: Path, known: dict[str, Path], tree: ast.AST) -> set[str]:
    """The project modules ``name`` imports anywhere in its body (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _room(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "harness" and len(parts) > 1 else parts[0]


@functools.cache
def _graph() -> tuple[dict[str, set[str]], dict[str, ast.Module]]:
    known = _modules()
    trees = {name: ast.parse(path.read_text(), str(path)) for name, path in known.items()}
    return {name: _imports(name, known[name], known, trees[name]) for name in known}, trees


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan 1972), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_imports_form_no_circle():
    graph, _ = _graph()
    assert _cycles(graph) == []


def test_imports_point_down_only():
    graph, _ = _graph()
    upward = [f"{a} -> {b}" for a, deps in graph.items() for b in deps
              if _room(a) != _room(b) and RANK[_room(b)] >= RANK[_room(a)]]
    assert upward == []


def test_generators_never_import_evaluators():
    """A generator never sees what judges its output; evaluators see neither generators nor the core."""
    graph, _ = _graph()
    crossing = [f"{a} -> {b}" for a, deps in graph.items() for b in deps
                if (_room(a) == "harness.generators" and _room(b) == "harness.evaluators")
                or (_room(a) == "harness.evaluators" and _room(b) in ("harness.generators", "harness.core"))]
    assert crossing == []


def test_harness_never_imports_evals():
    """evals measures the harness from above; nothing in the harness reaches up to it."""
    graph, _ = _graph()
    assert [f"{a} -> {b}" for a, deps in graph.items() for b in deps
            if a.startswith("harness") and _room(b) == "evals"] == []


def test_no_module_over_400_lines():
    too_long = {name: n for name, path in _modules().items()
                if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert too_long == {}


def test_long_functions_say_why():
    _, trees = _graph()
    known = _modules()
    unexplained = []
    for name, tree in trees.items():
        lines = known[name].read_text().splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            length = node.end_lineno - node.lineno + 1
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                length -= first.end_lineno - first.lineno + 1
            body = lines[node.lineno - 1:node.end_lineno]
            if length > MAX_FUNCTION_LINES and not any("#" in ln and "on purpose" in ln for ln in body):
                unexplained.append(f"{name}.{node.name}: {length} lines")
    assert unexplained == []


def test_the_checks_see_a_circle_and_an_upward_import():
    """The checks above can fail: a made-up graph with a circle and a core -> cli import."""
    graph = {"harness.core.a": {"harness.cli.b"}, "harness.cli.b": {"harness.core.a"}}
    assert _cycles(graph) == [["harness.cli.b", "harness.core.a"]]
    assert RANK[_room("harness.cli.b")] > RANK[_room("harness.core.a")]


def _untyped_rows(tp, seen: set | None = None) -> list[str]:
    """The ``list[dict]`` annotations reachable from dataclass ``tp``'s fields (nested
    dataclasses, lists, dicts and unions followed)."""
    import dataclasses
    import typing

    seen = set() if seen is None else seen
    if tp in seen or not dataclasses.is_dataclass(tp):
        return []
    seen.add(tp)
    found = []
    for name, hint in typing.get_type_hints(tp).items():
        stack = [hint]
        while stack:
            t = stack.pop()
            args = typing.get_args(t)
            if typing.get_origin(t) is list and args and (args[0] is dict or typing.get_origin(args[0]) is dict):
                found.append(f"{tp.__name__}.{name}: {t}")
            stack.extend(args)
            found += _untyped_rows(t, seen)
    return found


def test_run_state_types_hold_no_untyped_dicts():
    """Every row of ``state.json`` is a typed record: no ``list[dict]`` in the run-state types."""
    from harness.core.state import RunState

    assert _untyped_rows(RunState) == []


#: The stop reasons that are only stop reasons (``done``, ``answered``, ``error`` and
#: ``interrupted`` are statuses too, ``max_tokens`` a provider's finish reason).
def _reason_names() -> set[str]:
    from harness.core.records import StopReason

    return {r.value for r in StopReason} - {"done", "answered", "error", "interrupted", "max_tokens"}


def _literal_reason_comparisons(tree: ast.AST, reasons: set[str]) -> list[int]:
    """Lines of comparisons against a stop reason spelled as a string: an operand named like a
    reason (``stop_reason``, ``reason``) against any string literal, or any operand against a
    literal (or a tuple/list/set of them) that is a stop reason's name."""
    def literals(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return [x for e in node.elts for x in literals(e)]
        return []

    def reason_named(node: ast.AST) -> bool:
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
        return "reason" in name

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            texts = [x for o in operands for x in literals(o)]
            if (texts and any(reason_named(o) for o in operands)) or reasons & set(texts):
                lines.append(node.lineno)
    return lines


def test_no_stop_reason_is_compared_as_a_string_outside_stop_py():
    """A stop reason is compared as a :class:`~harness.core.records.StopReason` (or asked of
    :mod:`harness.core.stop`), never as a string literal in another module."""
    _, trees = _graph()
    reasons = _reason_names()  # loops compares a declaration's LSS failure types, not stop reasons
    found = [f"{name}:{line}" for name, tree in trees.items()
             if name != "harness.core.stop" and _room(name) != "loops"
             for line in _literal_reason_comparisons(tree, reasons)]
    assert found == []


def test_the_reason_check_sees_a_literal_comparison():
    """The check above can fail: the comparisons this check was written against."""
    reasons = _reason_names()
    for code in ('state.stop_reason != "evaluator_fault"', 'x in ("no_progress", "blocked")',
                 'stop.reason == "anything"'):
        assert _literal_reason_comparisons(ast.parse(code), reasons) == [1], code
    assert _literal_reason_comparisons(ast.parse('o.status in ("done", "answered")'), reasons) == []


# -- the mutation engine typed (issue 23 item 5) -----------------------------------------------
#: a private attribute of the standard library read by name (codecs' CodecInfo): not ours to type
_PRIVATE_READS_ALLOWED = {"_is_text_encoding"}


def _private_attribute_uses(tree: ast.AST) -> list[str]:
    """``x._name`` (read or written) on anything but ``self``/``cls``, ``getattr``/``hasattr`` with
    a ``"_name"`` string, any ``setattr``/``delattr``, and ``__dict__``: how attributes get stuck on
    AST nodes."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            own = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if node.attr == "__dict__" or (node.attr.startswith("_") and not node.attr.startswith("__")
                                           and not own and node.attr not in _PRIVATE_READS_ALLOWED):
                found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) > 1:
            key = node.args[1]
            private = isinstance(key, ast.Constant) and str(key.value).startswith("_")
            if node.func.id in ("setattr", "delattr") or (private and key.value not in _PRIVATE_READS_ALLOWED):
                found.append(f"{node.lineno}: {node.func.id}(..., {ast.unparse(key)})")
    return found


def test_no_private_attributes_on_ast_nodes_in_the_generators():
    """The mutation engine keeps what it knows about a node in its typed index
    (:class:`harness.generators.index.NodeRecord`), never as attributes set on the node."""
    _, trees = _graph()
    found = [f"{name}:{hit}" for name, tree in trees.items() if _room(name) == "harness.generators"
             for hit in _private_attribute_uses(tree)]
    assert found == []


def test_the_private_attribute_check_sees_them():
    """The check above can fail: the uses the engine had before it was typed."""
    for code in ("node._p = parent", "st._blk", "x = n._fn._p", "getattr(n, '_sa', None)",
                 "cx.__dict__.setdefault('_k', {})", "setattr(n, name, 1)"):
        assert _private_attribute_uses(ast.parse(code)), code
    assert _private_attribute_uses(ast.parse("self._cache = {}; getattr(i, '_is_text_encoding', 1)")) == []


#: the mutation engine: the offline repairer's modules (issue 23 item 5)
MUTATION_ENGINE = tuple(f"harness.generators.{m}" for m in (
    "index", "parse_check", "edit_text", "mutation_ops", "stmt_ops", "reach_ops", "value_ops",
    "synth_ops", "insert_ops", "mutations", "mutant", "syntax_fix", "templates"))


def _any_annotations(tree: ast.AST) -> list[str]:
    """Parameters, returns and variables annotated with ``Any`` (bare or inside another type)."""
    found = []
    for node in ast.walk(tree):
        notes = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            notes = [(p.arg, p.annotation) for p in a.posonlyargs + a.args + a.kwonlyargs
                     + [x for x in (a.vararg, a.kwarg) if x]] + [("return", node.returns)]
        elif isinstance(node, ast.AnnAssign):
            notes = [(ast.unparse(node.target), node.annotation)]
        for name, note in notes:
            if note is not None and any(isinstance(n, ast.Name) and n.id == "Any"
                                        or isinstance(n, ast.Attribute) and n.attr == "Any" for n in ast.walk(note)):
                found.append(f"{node.lineno}: {name}")
    return found


def test_the_mutation_engine_is_typed_and_type_checked():
    """No ``Any`` in the engine's annotations (the index is an ``Index``), and mypy checks every
    module of it: none is excused in ``[tool.mypy]`` (``tests/test_typecheck.py`` reads the rest)."""
    import tomllib

    _, trees = _graph()
    assert set(MUTATION_ENGINE) <= set(trees)
    assert [f"{m}:{hit}" for m in MUTATION_ENGINE for hit in _any_annotations(trees[m])] == []
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    excused = {m for o in config.get("overrides", []) if o.get("ignore_errors") for m in o["module"]}
    assert excused & set(MUTATION_ENGINE) == set()


def test_the_any_check_sees_an_untyped_index():
    """The check above can fail: the engine's signatures before it was typed."""
    assert _any_annotations(ast.parse("def f(cx: Any, node: ast.AST, out: list) -> None: ...")) == ["1: cx"]
    assert _any_annotations(ast.parse("x: dict[str, typing.Any] = {}")) == ["1: x"]
    assert _any_annotations(ast.parse("def f(cx: Index) -> list[Cand]: ...")) == []


def _private_imports(tree: ast.AST, prefix: str) -> list[str]:
    """``from <prefix>... import _name``: a module's private name used by another module."""
    return [f"{node.lineno}: {node.module}.{a.name}" for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(prefix)
            for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]


def test_no_private_name_of_the_generators_is_imported_by_another_module():
    """What the generators' modules share (the edit helpers, the operator tables) is public in
    its module; a name with an underscore stays in the module that defines it."""
    _, trees = _graph()
    found = [f"{name}:{hit}" for name, tree in trees.items() for hit in _private_imports(tree, "harness.generators")]
    assert found == []
    assert _private_imports(ast.parse("from harness.generators.edit_text import _cand, fit"),
                            "harness.generators") == ["1: harness.generators.edit_text._cand"]


#: one-letter names the engine may bind: loop indices and the throwaway
_SHORT_NAMES_ALLOWED = {"i", "j", "_"}


def _one_letter_bindings(tree: ast.AST) -> list[str]:
    """One-letter parameters and variables (assigned, loop or ``with`` targets, ``:=``), outside
    comprehensions (whose variables live for one expression); loop indices allowed."""
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            a = node.args
            names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]]
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.NamedExpr,
                               ast.With, ast.AsyncWith)):
            targets = (node.targets if isinstance(node, ast.Assign)
                       else [i.optional_vars for i in node.items if i.optional_vars]
                       if isinstance(node, (ast.With, ast.AsyncWith)) else [node.target])
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        found += [f"{node.lineno}: {n}" for n in names if len(n) == 1 and n not in _SHORT_NAMES_ALLOWED]
    return found


def test_the_mutation_engine_uses_descriptive_names():
    """Spans are ``start, end``, operands ``kid``/``arg``, precedences ``precedence``/``need``: no
    one-letter parameter or variable in the engine (loop indices and comprehensions aside)."""
    _, trees = _graph()
    assert [f"{m}:{hit}" for m in MUTATION_ENGINE for hit in _one_letter_bindings(trees[m])] == []
    assert _one_letter_bindings(ast.parse("def f(cx, n):\n    s, e = cx.span(n)\n    for i in r: pass")) == [
        "1: n", "2: s", "2: e"]
    assert _one_letter_bindings(ast.parse("xs = [n for n in names]")) == []
