"""The expressions an angelic probe evaluates at a statement: what a condition could test.

:func:`predicates` lists, for one line of a module, boolean expressions over what is in scope
there, in the order a repair should prefer them:

1. *copied conditions*: the tests of the file's other ``if``/``while``/``assert``/conditional
   expressions and comprehension filters, and the operands of their ``and``/``or``/``not``
   (comparisons, ``isinstance`` and ``hasattr`` calls, names, attributes), those of the
   enclosing function first, kept when every name they read is a parameter or local of the
   function, a module-level name or a builtin; then those that read one other name, with a
   value of the function in its place (``o.refunded`` -> ``order.refunded``). Real fixes that
   add a condition mostly reuse one written nearby (Xiong et al., "Precise Condition Synthesis
   for Program Repair", ICSE 2017, rank by such context);
2. each parameter, local and ``self``/``cls`` attribute of the function, and ``v is None``;
   the attributes the function reads of its parameters and locals (``item.price``); the
   module's predicate functions (``is_...``, ``has_...``, one argument) of each value;
3. comparisons of two such names the function compares or does arithmetic with, and of one
   with a number literal of the function (``v < w``, ``v <= w``, ``v == w``, ``v < 3`` ...);
   ``v == 'text'`` for the function's string literals; ``isinstance(v, T)`` for the classes the
   file passes to ``isinstance``.

The negation of each is not listed: a probe's bits for ``p`` say what ``not p`` gives
(:func:`negate` writes it). At most :data:`MAX_PREDICATES`, each at most
:data:`MAX_CHARS` characters.
"""

from __future__ import annotations

import ast
import builtins

from harness.core.tree_memo import remembered

#: expressions listed per line at most, and characters per expression.
MAX_PREDICATES = 160
MAX_CHARS = 120
#: names of one kind (numeric) paired with each other at most.
MAX_PAIRED = 8

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_BUILTINS = frozenset(dir(builtins))
#: calls a copied condition may make (cheap, no side effect on their arguments); and any call of a
#: predicate's name (``is_...``, ``has_...``).
_PURE_CALLS = frozenset({"isinstance", "hasattr", "callable", "len", "getattr", "issubclass", "type",
                         "startswith", "endswith", "isdigit", "isalpha", "isspace", "isupper", "islower",
                         "get", "keys", "values", "items", "strip"})
_INVERSE = {ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq,
            ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}


def enclosing(tree: ast.Module, line: int) -> list[ast.AST]:
    """The classes and functions whose span holds ``line``, outermost first."""
    out: list[ast.AST] = []
    node: ast.AST = tree
    while True:
        inner = [c for c in ast.iter_child_nodes(node) if isinstance(c, (*_FUNCTIONS, ast.ClassDef))
                 and c.lineno <= line <= (c.end_lineno or c.lineno)]
        if not inner:
            return out
        node = inner[0]
        out.append(node)


def _scope(tree: ast.Module, fn: ast.AST | None) -> tuple[set[str], set[str]]:
    """(the function's parameters and locals, the module's top-level names)."""
    local: set[str] = set()
    if fn is not None:
        a = fn.args  # type: ignore[attr-defined]
        local |= {p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg] if p is not None}
        for node in ast.walk(fn):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                local.add(node.id)
    top: set[str] = set()
    for st in tree.body:
        for node in ast.walk(st) if isinstance(st, (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom)) else [st]:
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                top.add(node.id)
            elif isinstance(node, ast.alias):
                top.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
                top.add(node.name)
    return local, top


def _readable(expr: ast.AST, names: set[str]) -> bool:
    """Every name ``expr`` reads is in ``names``, and its calls are of :data:`_PURE_CALLS`."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Name) and node.id not in names:
            return False
        if isinstance(node, ast.Call):
            f = node.func
            called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if called not in _PURE_CALLS and not called.startswith(("is_", "has_")):
                return False
        if isinstance(node, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom,
                             ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return False
    return True


def _conditions(node: ast.AST) -> list[ast.expr]:
    """The tests under ``node`` and their boolean operands, in source order."""
    out: list[ast.expr] = []

    def parts(e: ast.expr) -> None:
        out.append(e)
        if isinstance(e, ast.BoolOp):
            for v in e.values:
                parts(v)
        elif isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
            parts(e.operand)

    for n in ast.walk(node):
        if isinstance(n, (ast.If, ast.While, ast.IfExp, ast.Assert)):
            parts(n.test)
        elif isinstance(n, ast.comprehension):
            for e in n.ifs:
                parts(e)
    return sorted(out, key=lambda e: (e.lineno, e.col_offset))


def predicates(tree: ast.Module, line: int, own: ast.expr | None = None) -> list[str]:
    """The expressions to evaluate at ``line`` of ``tree`` (see the module docstring), best first,
    without ``own`` (the statement's own test, when it has one) and without duplicates."""
    # Over 60 lines on purpose: the grammar's order (copied conditions, values, comparisons) is
    # the ranking, and it reads top to bottom here.
    chain = enclosing(tree, line)
    fns = [n for n in chain if isinstance(n, _FUNCTIONS)]
    fn = fns[-1] if fns else None
    cls = next((n for n in reversed(chain) if isinstance(n, ast.ClassDef)), None)
    local, top = _scope(tree, fn)
    names = local | top | _BUILTINS
    out: dict[str, None] = {}
    skip = {ast.unparse(own)} if own is not None else set()

    def add(text: str) -> None:
        if len(out) < MAX_PREDICATES and len(text) <= MAX_CHARS and text not in skip:
            out.setdefault(text, None)

    params = [p.arg for p in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]] if fn else []  # type: ignore[attr-defined]
    values = [n for n in dict.fromkeys([*params, *sorted(local - set(params))]) if n not in ("self", "cls")]
    # the copied conditions depend on the function alone: once per function for all its points
    for text in remembered(tree, (_copied, id(fn), id(cls)), lambda: _copied(tree, fn, cls, names, values)):
        add(text)
    if fn is None:
        return list(out)
    attrs: dict[str, None] = {}
    for node in ast.walk(cls or fn):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls") and node.value.id in local):
            attrs.setdefault(f"{node.value.id}.{node.attr}", None)
    for v in [*values, *attrs]:
        add(v)
        add(f"{v} is None")
    for name in _predicate_functions(tree):  # the module's own predicates of one value, not itself
        for v in values[:MAX_PAIRED] if name != getattr(fn, "name", None) else []:
            add(f"{name}({v})")
    for node in ast.walk(fn):  # the attributes the function reads of its values
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in values:
            add(ast.unparse(node))
    numeric, numbers, strings, classes = _kinds(tree, fn, local, set(attrs), names)
    paired = list(numeric)[:MAX_PAIRED]
    for i, a in enumerate(paired):
        for b in paired[i + 1:]:
            for op in ("<", "<=", "=="):
                add(f"{a} {op} {b}")
    for a in paired:
        for c in dict.fromkeys(["0", "1", *numbers]):
            for op in ("<", "==", ">"):
                add(f"{a} {op} {c}")
    for v in values[:MAX_PAIRED]:
        for s in strings:
            add(f"{v} == {s}")
        for cls_name in classes:
            add(f"isinstance({v}, {cls_name})")
    return list(out)


def _copied(tree: ast.Module, fn: ast.AST | None, cls: ast.ClassDef | None, names: set[str],
            values: list[str]) -> list[str]:
    """The copied conditions of :func:`predicates` for a point in ``fn`` (in ``cls``; both None
    at module level): the readable tests of the function, the class, then the module; then those
    that read one other name, with each of ``values`` in its place. Duplicates kept."""
    readable: list[str] = []
    renamed: list[str] = []
    for where in [n for n in (fn, cls) if n is not None] + [tree]:
        conditions = remembered(tree, _conditions, lambda: _conditions(tree)) if where is tree else _conditions(where)
        for e in conditions:
            if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
                e = e.operand
            if isinstance(e, (ast.BoolOp, ast.Constant)):
                continue
            if _readable(e, names):
                readable.append(ast.unparse(e))
            else:  # the same check of another variable (``o.refunded`` in a comprehension)
                renamed += _renamed(e, names, values[:MAX_PAIRED])
    return readable + renamed


def _kinds(tree: ast.Module, fn: ast.AST, local: set[str], attrs: set[str],
           names: set[str]) -> tuple[dict[str, None], dict[str, None], dict[str, None], dict[str, None]]:
    """What the function's values are compared with: ``(numeric values, int literals, short
    string literals, classes the file passes to isinstance)``, each in first-seen order. A value
    is numeric when the function compares it (not with a string) or does arithmetic with it."""
    numeric: dict[str, None] = {}
    numbers: dict[str, None] = {}
    strings: dict[str, None] = {}
    classes: dict[str, None] = {}
    for node in ast.walk(fn):
        if isinstance(node, (ast.Compare, ast.BinOp, ast.AugAssign)):
            operands = ([node.left, *node.comparators] if isinstance(node, ast.Compare)
                        else [node.left, node.right] if isinstance(node, ast.BinOp) else [node.target, node.value])
            textual = isinstance(node, ast.Compare) and any(
                isinstance(o, ast.Constant) and isinstance(o.value, str) for o in operands)
            for o in operands:
                text = ast.unparse(o)
                of_value = isinstance(o, ast.Attribute) and isinstance(o.value, ast.Name) and o.value.id in local
                if text in local or text in attrs or of_value or (
                        isinstance(o, ast.Call) and text.startswith("len(") and _readable(o, names)):
                    if not textual:
                        numeric.setdefault(text, None)
    for node in ast.walk(fn):
        if isinstance(node, ast.Constant) and type(node.value) is int and abs(node.value) < 10**6:
            numbers.setdefault(repr(node.value), None)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and 0 < len(node.value) <= 30 \
                and "\n" not in node.value:
            strings.setdefault(repr(node.value), None)
    for kind in _isinstance_kinds(tree):
        if _readable(kind, names):
            classes.setdefault(ast.unparse(kind), None)
    return numeric, numbers, strings, classes


def _isinstance_kinds(tree: ast.Module) -> list[ast.expr]:
    """The class expressions the file's ``isinstance(x, C)`` / ``isinstance(x, (C, D))`` calls
    name, in walk order; one walk per tree (:func:`predicates` asks once per point)."""
    def walk() -> list[ast.expr]:
        kinds: list[ast.expr] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance" \
                    and len(node.args) == 2:
                kinds += node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
        return kinds
    return remembered(tree, _isinstance_kinds, walk)


def _predicate_functions(tree: ast.Module) -> list[str]:
    """The module's top-level functions named ``is_...``/``has_...`` that take one argument."""
    out = []
    for st in tree.body:
        if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)) and st.name.startswith(("is_", "has_")):
            a = st.args
            required = len(a.posonlyargs) + len(a.args) - len(a.defaults)
            if required == 1 and not a.kwonlyargs:
                out.append(st.name)
    return out


def _renamed(expr: ast.expr, names: set[str], values: list[str]) -> list[str]:
    """``expr`` with its one name that is not in ``names`` replaced by each of ``values`` (none
    when it reads two such names or calls more than :data:`_PURE_CALLS`)."""
    unknown = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name) and n.id not in names}
    if len(unknown) != 1:
        return []
    old = unknown.pop()
    copy = ast.parse(ast.unparse(expr), mode="eval").body  # our own copy: its names are renamed in place
    spots = [n for n in ast.walk(copy) if isinstance(n, ast.Name) and n.id == old]
    out = []
    for v in values:
        for n in spots:
            n.id = v
        if _readable(copy, names | {v}):
            out.append(ast.unparse(copy))
    return out


def negate(text: str) -> str:
    """``not text``, written as a person would: an inverted comparison (``a is None`` ->
    ``a is not None``, ``a < b`` -> ``a >= b``), a dropped ``not``, else ``not (...)``/``not x``.

    Raises:
        SyntaxError: ``text`` is not an expression.
    """
    e = ast.parse(text, mode="eval").body
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
        return ast.unparse(e.operand)
    if isinstance(e, ast.Compare) and len(e.ops) == 1 and type(e.ops[0]) in _INVERSE:
        return ast.unparse(ast.Compare(e.left, [_INVERSE[type(e.ops[0])]()], e.comparators))
    return ast.unparse(ast.UnaryOp(ast.Not(), e))
