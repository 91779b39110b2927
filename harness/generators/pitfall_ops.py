"""Python pitfalls that linters name, with their documented fixes: operators behind
:func:`harness.generators.mutations.mutants_at` (the rule that flags each is given; the
operators act on a suspicious line whether or not a linter ran):

- ``f_prefix``: a string written like an f-string without the ``f`` (``"Hello {name}"``,
  pylint W1310's reverse, Ruff RUF027 ``missing-f-string-syntax``), when every ``{...}``
  names something in scope -> ``f"Hello {name}"``;
- ``late_binding``: a ``lambda`` made in a loop (or a comprehension) that reads the loop's variable
  (flake8-bugbear B023): every one sees the variable's last value -> the value bound as a
  default, ``lambda: i`` -> ``lambda i=i: i``;
- ``strip_affix``: ``s.rstrip(".txt")`` strips *characters*, not a suffix (bugbear B005) ->
  ``s.removesuffix(".txt")`` (``lstrip`` -> ``removeprefix``);
- ``sorted_copy``: ``ys = xs.sort()`` keeps ``None`` (``list.sort`` sorts in place, pylint
  E1111 ``assignment-from-no-return``) -> ``ys = sorted(xs)`` (``reverse`` ->
  ``list(reversed(xs))``);
- ``copy_iterated``: a ``for`` loop that adds to or removes from the list, dict or set it
  iterates (bugbear B909 ``loop-iterator-mutation``, pylint E4703) -> ``for x in list(xs):``;
- ``split_concat``: two string literals side by side inside a list, tuple or set, or on one
  line of a call's arguments, are one string (Ruff ISC001 ``implicit-str-concat``: a missing
  comma) -> the comma restored;
- ``one_tuple``: ``x in ("abc")`` and ``for c in ("abc")`` are about the string's characters,
  the parentheses make no tuple -> ``("abc",)``;
- ``setdefault_lost``: ``d.get(k, []).append(x)`` changes a list nobody keeps -> ``d.setdefault(k, [])``;
- ``type_compare``: ``type(x) == T`` / ``type(x) is T`` misses subclasses (pycodestyle E721)
  -> ``isinstance(x, T)`` (``!=`` / ``is not``: ``not isinstance(x, T)``);
- ``find_truthy``: ``if s.find(t):`` is true for "not found" (-1) and false at index 0 ->
  ``if t in s:``;
- ``not_implemented``: a binary operator method (``__add__``, ``__eq__``, ``__lt__``...) that
  raises ``TypeError`` for an operand it does not know takes away the other operand's
  reflected method (``__radd__``): the data model says to ``return NotImplemented``, and
  Python raises the ``TypeError`` itself when both sides decline (the language reference,
  "Emulating numeric types");
- ``hash_eq``: a ``__hash__`` that hashes other fields than ``__eq__`` compares (``hash(id(self))``
  beside ``self._tag == other._tag``) breaks "objects which compare equal have the same hash
  value" (the data model, ``object.__hash__``) -> ``hash(self._tag)`` (a tuple for several).

Edits are character offsets into the original text, as in :mod:`harness.generators.edit_text`.
"""

from __future__ import annotations

import ast
import builtins
import io
import re
import tokenize

from harness.generators.edit_text import module_names, OP_PRECEDENCE, Cand, add_cand, add_replacement, fit, prec, run_ops, short, slot
from harness.generators.index import FunctionNode, Index

#: one ``{...}`` of an f-string: a name, then attributes/indexes, a conversion and a format.
_FIELD = re.compile(r"\{([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\[[^\[\]{}]*\])*)(?:![rsa])?(?::[^{}]*)?\}")
_BUILTINS = frozenset(dir(builtins))
_COMPARE = 6  # a comparison's precedence (edit_text.prec); its operands need one more
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _module_names(cx: Index) -> set[str]:
    return module_names(cx.tree)


def _in_scope(cx: Index, fn: FunctionNode | None) -> set[str]:
    """Names a string in ``fn`` could mean: its parameters and locals, the module's names,
    builtins are not counted (``{id}`` in a message is rarely ``id()``)."""
    names = set(cx.memo(_module_names))
    if fn is not None:
        names.update(cx.params(fn))
        names.update(("self", "cls"))
        names.update(node.id for node in ast.walk(fn) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store))
    return names - _BUILTINS


def f_prefix(cx: Index, node: ast.Constant, out: list[Cand]) -> None:
    """``"Hello {name}"`` -> ``f"Hello {name}"`` when every field names something in scope."""
    if not isinstance(node.value, str) or "{" not in node.value or "{{" in node.value:
        return
    parent = cx.parent(node)
    if isinstance(parent, ast.JoinedStr) or (isinstance(parent, ast.Attribute) and parent.attr in ("format", "format_map")) \
            or (isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Mod)) or isinstance(parent, ast.Expr):
        return  # already an f-string's piece, a template filled later, or a docstring
    fields = list(_FIELD.finditer(node.value))
    rest = _FIELD.sub("", node.value)
    if not fields or "{" in rest or "}" in rest:
        return
    scope = _in_scope(cx, cx.function(node))
    if any(field.group(1) not in scope for field in fields):
        return
    start, end = cx.span(node)
    head = cx.text[start:end]
    if head[:1].lower() in ("b", "u", "f") or "\\N{" in head:
        return
    add_cand(out, "f_prefix", node, [(start, start, "f")], f"make `{short(head)}` an f-string")


def _loop_variables(cx: Index, node: ast.AST) -> set[str]:
    """Variables of the loops (``for`` statements, comprehensions) around ``node`` in its function."""
    out: set[str] = set()
    up = cx.parent(node)
    while up is not None and not isinstance(up, (*_FUNCS, ast.ClassDef, ast.Module)):
        if isinstance(up, (ast.For, ast.AsyncFor)):
            out.update(n.id for n in ast.walk(up.target) if isinstance(n, ast.Name))
        elif isinstance(up, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            out.update(n.id for gen in up.generators for n in ast.walk(gen.target) if isinstance(n, ast.Name))
        up = cx.parent(up)
    return out


def late_binding(cx: Index, node: ast.Lambda, out: list[Cand]) -> None:
    """``lambda: i`` made in a loop over ``i`` -> ``lambda i=i: i``."""
    own = {a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}
    read = {n.id for n in ast.walk(node.body) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    late = sorted((read - own) & _loop_variables(cx, node))
    if not late or node.args.vararg or node.args.kwarg or node.args.kwonlyargs:
        return
    start, _ = cx.span(node)
    colon = cx.text.find(":", cx.span(node.args.args[-1])[1] if node.args.args else start + len("lambda"))
    if colon < 0:
        return
    bound = ", ".join(f"{name}={name}" for name in late)
    text = f", {bound}" if node.args.args else f" {bound}"
    at = cx.span(node.args.args[-1])[1] if node.args.args else start + len("lambda")
    if node.args.args and node.args.defaults is not None and cx.text[at:colon].strip():
        return  # a default value after the last parameter: not a plain list to extend
    add_cand(out, "late_binding", node, [(at, at, text)], f"bind {bound} when the lambda is made")


def strip_affix(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    """``s.rstrip(".txt")`` -> ``s.removesuffix(".txt")``; ``lstrip`` -> ``removeprefix``."""
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr in ("rstrip", "lstrip") and len(node.args) == 1
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str | bytes)
            and len(node.args[0].value) >= 2):
        return
    _, end = cx.span(func)
    new = "removesuffix" if func.attr == "rstrip" else "removeprefix"
    add_replacement(out, cx, "strip_affix", node, end - len(func.attr), end, new)


def sorted_copy(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    """``xs.sort()`` whose value is used -> ``sorted(xs)``; ``xs.reverse()`` -> ``list(reversed(xs))``."""
    func = node.func
    parent = cx.parent(node)
    if not (isinstance(func, ast.Attribute) and func.attr in ("sort", "reverse")) or isinstance(parent, ast.Expr):
        return
    start, end = cx.span(node)
    base = cx.seg(func.value)
    if func.attr == "reverse" and not node.args and not node.keywords:
        add_replacement(out, cx, "sorted_copy", node, start, end, f"list(reversed({base}))")
    elif func.attr == "sort" and not node.args:
        keywords = "".join(f", {cx.seg(kw)}" for kw in node.keywords)
        add_replacement(out, cx, "sorted_copy", node, start, end, f"sorted({base}{keywords})")


#: methods that add to or remove from a list, dict or set.
_RESIZERS = frozenset({"append", "extend", "insert", "remove", "pop", "popitem", "clear", "add", "discard", "update",
                       "setdefault", "appendleft", "popleft"})


def copy_iterated(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """``for x in xs: ... xs.remove(x)`` -> ``for x in list(xs):``."""
    if not isinstance(st, ast.For) or not isinstance(st.iter, (ast.Name, ast.Attribute)):
        return
    seq = ast.unparse(st.iter)
    for node in (n for item in st.body for n in ast.walk(item)):
        changed = (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _RESIZERS
                   and ast.unparse(node.func.value) == seq) or (
            isinstance(node, ast.Delete) and any(isinstance(t, ast.Subscript) and ast.unparse(t.value) == seq
                                                 for t in node.targets))
        if changed:
            start, end = cx.span(st.iter)
            add_replacement(out, cx, "copy_iterated", st, start, end, f"list({seq})")
            return


def _strings(text: str) -> list[tuple[int, int]]:
    """Offsets of the string tokens of an expression's text ([] when it does not tokenize)."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    return [(starts[t.start[0] - 1] + t.start[1], starts[t.end[0] - 1] + t.end[1])
            for t in tokens if t.type == tokenize.STRING]


def split_concat(cx: Index, node: ast.Constant, out: list[Cand]) -> None:
    """``["a" "b", "c"]`` -> ``["a", "b", "c"]``: a comma between two literals side by side."""
    if not isinstance(node.value, str) or not isinstance(cx.parent(node), (ast.List, ast.Tuple, ast.Set, ast.Call)):
        return
    start, end = cx.span(node)
    pieces = _strings(cx.text[start:end])
    for (_, left_end), (right_start, _) in zip(pieces, pieces[1:]):
        at = start + left_end
        if isinstance(cx.parent(node), ast.Call) and "\n" in cx.text[at:start + right_start]:
            continue  # a long message split over lines on purpose (ISC002 is no bug)
        add_cand(out, "split_concat", node, [(at, at, ",")], f"a comma after `{short(cx.text[start:at])}`")


def one_tuple(cx: Index, node: ast.Constant, out: list[Cand]) -> None:
    """``x in ("abc")`` / ``for c in ("abc")`` -> ``("abc",)``."""
    parent = cx.parent(node)
    in_test = isinstance(parent, ast.Compare) and cx.field(node) == "comparators" and isinstance(
        parent.ops[parent.comparators.index(node)], (ast.In, ast.NotIn))
    if not isinstance(node.value, str) or not (in_test or (isinstance(parent, ast.For) and cx.field(node) == "iter")):
        return
    start, end = cx.span(node)
    if cx.text[start - 1:start] == "(" and cx.text[end:end + 1] == ")":
        add_cand(out, "one_tuple", node, [(end, end, ",")], f"`({short(cx.seg(node))},)`: a tuple of one string")


def setdefault_lost(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    """``d.get(k, []).append(x)`` -> ``d.setdefault(k, []).append(x)``."""
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr in _RESIZERS and isinstance(func.value, ast.Call)):
        return
    inner = func.value.func
    if isinstance(inner, ast.Attribute) and inner.attr == "get" and len(func.value.args) == 2:
        _, end = cx.span(inner)
        add_replacement(out, cx, "setdefault_lost", node, end - len("get"), end, "setdefault")


def type_compare(cx: Index, node: ast.Compare, out: list[Cand]) -> None:
    """``type(x) == T`` -> ``isinstance(x, T)``; ``!=``/``is not`` -> ``not isinstance(x, T)``."""
    left = node.left
    if not (len(node.ops) == 1 and isinstance(node.ops[0], (ast.Eq, ast.NotEq, ast.Is, ast.IsNot))
            and isinstance(left, ast.Call) and isinstance(left.func, ast.Name) and left.func.id == "type"
            and len(left.args) == 1 and not left.keywords):
        return
    text = f"isinstance({cx.seg(left.args[0])}, {cx.seg(node.comparators[0])})"
    if isinstance(node.ops[0], (ast.NotEq, ast.IsNot)):
        text = fit(f"not {text}", OP_PRECEDENCE[ast.Not], slot(cx, node))
    start, end = cx.span(node)
    add_replacement(out, cx, "type_compare", node, start, end, text)


def find_truthy(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    """``if s.find(t):`` -> ``if t in s:``; ``not s.find(t)`` -> ``t not in s``."""
    func = node.func
    parent = cx.parent(node)
    tested = (isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)) and cx.field(node) == "test") or \
        isinstance(parent, ast.BoolOp)
    negated = isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not)
    if not (isinstance(func, ast.Attribute) and func.attr in ("find", "rfind") and len(node.args) == 1
            and not node.keywords and (tested or negated)):
        return
    needle, hay = cx.seg(node.args[0]), cx.seg(func.value)
    target: ast.expr = parent if negated else node  # type: ignore[assignment]  # the `not` is a UnaryOp
    start, end = cx.span(target)
    text = f"{fit(needle, prec(node.args[0]), _COMPARE + 1)} {'not in' if negated else 'in'} " \
           f"{fit(hay, prec(func.value), _COMPARE + 1)}"
    add_replacement(out, cx, "find_truthy", node, start, end, fit(text, _COMPARE, slot(cx, target)))


#: binary operator methods, whose answer for an operand they do not handle is ``NotImplemented``.
_BINARY = frozenset(f"__{p}{name}__" for name in (
    "add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "divmod", "pow", "lshift", "rshift",
    "and", "xor", "or") for p in ("", "r", "i")) | {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"}


def not_implemented(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """``raise TypeError(...)`` in a binary operator method -> ``return NotImplemented``."""
    if not isinstance(st, ast.Raise) or st.exc is None:
        return
    exc = st.exc.func if isinstance(st.exc, ast.Call) else st.exc
    fn = cx.function(st)
    if isinstance(exc, ast.Name) and exc.id == "TypeError" and isinstance(fn, _FUNCS) and fn.name in _BINARY:
        start, end = cx.span(st)
        add_replacement(out, cx, "not_implemented", st, start, end, "return NotImplemented")


def _compared_fields(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """``self.<attr>`` names an ``__eq__`` compares (``self.a == other.a``), in order."""
    me = fn.args.args[0].arg if fn.args.args else "self"
    found: dict[str, None] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Attribute) and isinstance(side.value, ast.Name) and side.value.id == me:
                    found[side.attr] = None
    return list(found)


def hash_eq(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """``return hash(...)`` in a ``__hash__`` that reads none of the fields its class's
    ``__eq__`` compares -> ``return hash(self.f)`` (``hash((self.f, self.g))``)."""
    fn = cx.function(st)
    if not (isinstance(st, ast.Return) and st.value is not None and isinstance(fn, _FUNCS) and fn.name == "__hash__"):
        return
    cls = cx.parent(fn)
    eq = next((n for n in getattr(cls, "body", ()) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
               and n.name == "__eq__"), None)
    fields = _compared_fields(eq)[:4] if eq is not None else []
    me = fn.args.args[0].arg if fn.args.args else "self"
    read = {n.attr for n in ast.walk(st.value) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and n.value.id == me}
    if not fields or read & set(fields):
        return
    parts = [f"{me}.{f}" for f in fields]
    start, end = cx.span(st.value)
    add_replacement(out, cx, "hash_eq", st, start, end, f"hash({parts[0]})" if len(parts) == 1 else f"hash(({', '.join(parts)}))")


_EXPR = {ast.Constant: (f_prefix, split_concat, one_tuple), ast.Lambda: (late_binding,),
         ast.Call: (strip_affix, sorted_copy, setdefault_lost, find_truthy), ast.Compare: (type_compare,)}


def expr_mutants(cx: Index, node: ast.expr) -> list[Cand]:
    """Candidates of this module's operators for one expression node (any order)."""
    return run_ops(_EXPR.get(type(node), ()), cx, node)


def stmt_mutants(cx: Index, st: ast.stmt) -> list[Cand]:
    """Candidates of this module's statement operator for one statement (any order)."""
    return run_ops((copy_iterated, not_implemented, hash_eq), cx, st)
