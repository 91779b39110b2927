"""Return guards the failure points at (issue 21): when a failing test ends in a ``raise`` the
code guards by an emptiness test of a name (``if not results: raise ...``, ``if x is None:``)
or in an ``assert`` of it, the functions of the same module that name's value came from are
where an empty result was returned too early. Their ``return`` statements that
:func:`harness.generators.guard_ops.return_guard` would guard are tried before the blind
mutants (:class:`harness.generators.templates.TemplateGenerator`), those the failing tests ran
first.

chardet 7.4.2: ``run_pipeline`` raises "pipeline must always return at least one result" under
``if not results:``; ``results`` came from ``_run_pipeline_core``, whose early stage
``return _postprocess_results(data, results)`` the developer guarded by ``if results:``. By
suspiciousness alone that line ties with 200 others the failing tests alone run, 163rd.

Pure: files are read through the ``read`` function given; no test is run here.
"""

from __future__ import annotations

import ast

from harness.core.context import Context
from harness.core.localize import is_protected
from harness.core.tree_memo import below, nodes
from harness.generators.data_text import parsed
from harness.generators.index import FUNCTION_TYPES, FunctionNode
from harness.generators.message_evidence import Reader, evidence
from harness.generators.mutant import Mutant
from harness.generators.mutations import mutants_at

#: score of the first guard (in (0, 1], as :func:`harness.generators.message_ops.message_mutants`'
#: scores): below a message operator's precise edits, above nothing else; each next one less.
FIRST_SCORE = 0.5
#: guards handed out at most.
MAX_GUARDS = 4


def _emptiness(test: ast.expr) -> str | None:
    """``x`` of a test that holds when ``x`` is empty or None: ``not x``, ``x is None``,
    ``x == None``, ``not len(x)``, ``len(x) == 0``; else None."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _name(test.operand)
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Is, ast.Eq)):
        right = test.comparators[0]
        if isinstance(right, ast.Constant) and (right.value is None or right.value == 0 and _is_len(test.left)):
            return _name(test.left)
    return None


def _is_len(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len"


def _name(node: ast.expr) -> str | None:
    """``x`` of ``x`` or ``len(x)``."""
    if _is_len(node) and isinstance(node, ast.Call) and node.args:
        node = node.args[0]
    return node.id if isinstance(node, ast.Name) else None


def _checked(tree: ast.Module, line: int) -> tuple[FunctionNode, str] | None:
    """(function, name) when the statement at ``line`` is a ``raise`` right under an ``if`` of
    :func:`_emptiness`, or an ``assert x`` / ``assert x is not None``; else None."""
    for fn in nodes(tree):  # one walk of the module per tree, not one per failing test
        if not isinstance(fn, FUNCTION_TYPES) or not fn.lineno <= line <= (fn.end_lineno or fn.lineno):
            continue
        for node in below(tree, fn):  # listed once per function, not once per failing test
            if isinstance(node, ast.If) and any(isinstance(st, ast.Raise) and st.lineno == line for st in node.body):
                name = _emptiness(node.test)
            elif isinstance(node, ast.Assert) and node.lineno == line:
                test = node.test
                name = test.id if isinstance(test, ast.Name) else _name(test.left) if (
                    isinstance(test, ast.Compare) and isinstance(test.ops[0], ast.IsNot)
                    and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value is None) else None
            else:
                continue
            if name:
                return fn, name
    return None


def _sources(tree: ast.Module, fn: FunctionNode, name: str, line: int) -> list[FunctionNode]:
    """The module's functions (and methods) whose calls ``fn`` assigns to ``name`` before ``line``,
    the nearest assignment first."""
    called = []
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and node.lineno < line and isinstance(node.value, ast.Call) and any(
                isinstance(target, ast.Name) and target.id == name for target in node.targets):
            func = node.value.func
            callee = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            called.append((node.lineno, callee))
    defined = {node.name: node for node in ast.walk(tree) if isinstance(node, FUNCTION_TYPES)}
    got = [defined[callee] for _, callee in sorted(called, reverse=True) if callee in defined]
    return list(dict.fromkeys(got))


def guard_mutants(context: Context, read: Reader) -> list[tuple[float, Mutant]]:
    """The ``return_guard`` candidates the failing tests' ``raise``/``assert`` points at (see the
    module docstring), as ``(score, mutant)``, best first, at most :data:`MAX_GUARDS`: returns the
    failing tests ran (a suspicious location) before the others, in the order of the functions
    (:func:`_sources`) and of their lines. Empty when no failing test ends so."""
    ran = {(loc.path, loc.line) for loc in context.locations if loc.score > 0}
    spots: dict[str, list[FunctionNode]] = {}
    texts: dict[str, str] = {}
    trees: dict[str, ast.Module | None] = {}  # each file parsed once (None: it does not parse)
    for item in evidence(context.task.failing):
        if not item.frames or is_protected(item.frames[-1][0], context.protected):
            continue
        path, line = item.frames[-1]
        if path not in trees:
            texts[path] = read(path) or ""
            trees[path] = parsed(texts[path])  # the tree shared with the operators (read only)
        tree = trees[path]
        found = _checked(tree, line) if tree is not None else None
        if tree is not None and found is not None:
            spots.setdefault(path, [])
            spots[path] += [fn for fn in _sources(tree, *found, line) if fn not in spots[path]]
    picked: list[Mutant] = []
    for path, fns in spots.items():
        lines = [node.lineno for fn in fns for node in ast.walk(fn) if isinstance(node, ast.Return)]
        lines.sort(key=lambda ln: (path, ln) not in ran)  # stable: function and line order kept
        picked += [mutant for mutant in mutants_at(path, texts[path], lines) if mutant.operator == "return_guard"]
    picked.sort(key=lambda mutant: (mutant.path, mutant.line) not in ran)
    return [(FIRST_SCORE * 0.9 ** i, mutant) for i, mutant in enumerate(picked[:MAX_GUARDS])]
