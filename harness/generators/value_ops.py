"""Operators for the fixes of real release regressions that the other operator modules miss.

Found by reading the developers' fixes of the release-pair suite
(``evals/suites/release-pairs.yaml``) next to what the repairer tried; each operator is a
general edit, not a rule for one library:

- ``wrap_bool``: a returned value coerced to a truth value (``return include`` ->
  ``return bool(include)``: a predicate leaking the object it found);
- ``add_default_arg``: the default argument of a lookup that may miss
  (``d.pop(k)`` -> ``d.pop(k, None)``, ``getattr(o, n, None)``, ``next(it, None)``);
- ``const_to_attr``: a number replaced by an attribute of ``self`` the class stores
  (``uniform(0, high)`` -> ``uniform(self.min, high)``), first an attribute set from a
  parameter whose default is that number;
- ``name_to_self``: a value in a method replaced by ``self`` (``f.retry = f`` ->
  ``f.retry = self``);
- ``method_swap`` (the older operator's id, widened): a method swapped for a sibling of
  the same standard type or of a class of this module, named as an extension of it
  (``dt.time()`` -> ``dt.timetz()``, ``s.split`` -> ``s.rsplit``);
- ``encoding_swap``: a codec name swapped for a common one (``'CP1252'`` -> ``'latin1'``:
  a codec that cannot decode every byte);
- ``unwrap_comprehension``: a list comprehension or generator replaced by the iterable it
  walks (``[s2 for s1 in q.split('&') for s2 in s1.split(';')]`` -> ``q.split('&')``: a
  flattening or filter the data must not get);
- ``regex_quantifier``: a quantifier of a regular expression literal changed
  (``\\d+`` -> ``\\d*``, ``{6}`` -> ``{1,6}``, ``x?`` -> ``x``), also at every identical
  literal of the file at once (a pattern written twice, fixed twice).

Conventions as in :mod:`.edit_text` (``cx`` is the file's
:class:`harness.generators.index.Index`; edits are character offsets into the original
text).
"""

from __future__ import annotations

import ast
import builtins
import codecs
import collections
import datetime
import decimal
import pathlib
import re
from typing import TypeGuard

from harness.generators.edit_text import Cand, add_cand, add_replacement, short, fit, prec, run_ops, slot
from harness.generators.index import FunctionNode, Index, last_line
from harness.generators.mutation_ops import METHOD_SWAPS
from harness.core.tree_memo import nodes

#: operators whose edits always parse (a name for a name or constant, a call around an
#: atom, a character inside a string literal): ``mutants_at`` skips their parse check.
SAFE = frozenset({"wrap_bool", "const_to_attr", "name_to_self", "regex_quantifier", "encoding_swap"})
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_BUILTINS = frozenset(dir(builtins))
#: codec names tried for one another, the most used first.
_CODECS = ("utf-8", "latin1", "ascii", "utf-16", "cp1252")
#: callee -> positional arguments after which a default (``None``) may follow.
_DEFAULTABLE = {"pop": 1, "getattr": 2, "next": 1}
#: standard types whose methods are each other's siblings (``time``/``timetz``).
_STD_TYPES = (str, bytes, list, dict, set, tuple, int, float, datetime.datetime, datetime.date,
              datetime.time, datetime.timedelta, collections.deque, collections.OrderedDict,
              pathlib.PurePath, decimal.Decimal, type(re.compile("")), type(re.match("", "")))
_VALUE_SLOTS = {(ast.Assign, "value"), (ast.Return, "value"), (ast.Call, "args"),
                (ast.keyword, "value")}
_QUANT = re.compile(r"(?<!\\)(?:\\\\)*([+*?])|\{(\d+)\}")
_REGEX_HINT = re.compile(r"\\[dwsDWSb]|\[[^\]]*\]|\(\?|[^\\][+*]|\{\d+(,\d*)?\}")


def _siblings(methods: list[set[str]], name: str) -> list[str]:
    """Names of the same class as ``name`` that extend it or that it extends (``time`` ->
    ``timetz``, ``find`` -> ``rfind``), the closest in length first."""
    out: set[str] = set()
    for names in methods:
        if name in names:
            out |= {other for other in names if other != name and not other.startswith("_") and min(len(other), len(name)) >= 3
                    and (other.startswith(name) or name.startswith(other) or other.endswith(name) or name.endswith(other))}
    # a suffix added (``timetz``, ``splitlines``) before a prefix (``rfind``), then the closest
    return sorted(out, key=lambda other: (not other.startswith(name), abs(len(other) - len(name)), other))


_STD_METHODS = [{n for n in dir(t) if callable(getattr(t, n, None))} for t in _STD_TYPES]


# -- facts about the module's classes (one walk per parse, cached on the index) -----
class _Classes:
    """Per class of the module: ``self`` attributes in order of first use, the ones set
    from a parameter with a constant default (attribute -> default), method names; the
    base classes defined in this module."""

    def __init__(self, tree: ast.Module) -> None:
        self.by_name = {cls.name: cls for cls in tree.body if isinstance(cls, ast.ClassDef)}
        self.attrs: dict[str, list[str]] = {}
        self.defaults: dict[str, dict[str, object]] = {}
        self.methods: list[set[str]] = []
        for cls in self.by_name.values():
            attrs, defaults = self.attrs.setdefault(cls.name, []), self.defaults.setdefault(cls.name, {})
            fns = [fn for fn in cls.body if isinstance(fn, _FUNCS)]
            self.methods.append({fn.name for fn in fns})
            for fn in fns:
                args = fn.args
                pos = args.posonlyargs + args.args
                given = dict(zip([param.arg for param in pos[len(pos) - len(args.defaults):]], args.defaults))
                given.update({param.arg: kw_default for param, kw_default in zip(args.kwonlyargs, args.kw_defaults) if kw_default is not None})
                for node in ast.walk(fn):
                    if _self_attr(node) and node.attr not in attrs:
                        attrs.append(node.attr)
                    if isinstance(node, ast.Assign) and len(node.targets) == 1 and _self_attr(target := node.targets[0]):
                        used = [name.id for name in ast.walk(node.value) if isinstance(name, ast.Name) and name.id in given]
                        if used and isinstance(default := given[used[0]], ast.Constant):
                            defaults.setdefault(target.attr, default.value)

    def lineage(self, name: str) -> list[str]:
        """``name`` and its base classes defined in this module, nearest first."""
        out, todo = [], [name]
        while todo:
            class_name = todo.pop(0)
            if class_name in self.by_name and class_name not in out:
                out.append(class_name)
                todo += [base.id for base in self.by_name[class_name].bases if isinstance(base, ast.Name)]
        return out


def _self_attr(node: ast.AST) -> TypeGuard[ast.Attribute]:
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"


def _classes_of(cx: Index) -> _Classes:
    return _Classes(cx.tree)


def _classes(cx: Index) -> _Classes:
    return cx.memo(_classes_of)


def _method(cx: Index, fn: FunctionNode | None) -> FunctionNode | None:
    """The method (a function whose first parameter is ``self``) ``fn`` is or is nested in."""
    while fn is not None:
        args = fn.args.posonlyargs + fn.args.args
        if args and args[0].arg == "self":
            return fn
        fn = cx.function(fn)
    return None


# -- operators ----------------------------------------------------------------------
def wrap_bool(cx: Index, st: ast.Return, out: list[Cand]) -> None:
    """``return x`` -> ``return bool(x)`` for a value that is not evidently a bool."""
    value = st.value if isinstance(st, ast.Return) else None
    if value is None or cx.is_bool(value) or not isinstance(value, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
        return
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("bool", "isinstance"):
        return
    if isinstance(value, ast.Name) and value.id in _BUILTINS:
        return  # `NotImplemented`, not a value this function computed
    start, end = cx.span(value)
    add_replacement(out, cx, "wrap_bool", st, start, end, f"bool({cx.text[start:end]})")


def add_default_arg(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    """``d.pop(k)`` -> ``d.pop(k, None)``; likewise ``getattr(o, name)`` and ``next(it)``."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if _DEFAULTABLE.get(name) != len(node.args) or node.keywords or any(
            isinstance(arg, ast.Starred) for arg in node.args):
        return
    at = cx.span(node.args[-1])[1]
    add_cand(out, "add_default_arg", node, [(at, at, ", None")], "add default argument `None`")


def const_to_attr(cx: Index, node: ast.Constant, out: list[Cand]) -> None:
    """A number in a method -> ``self.attr`` of its class (or a base class of this module):
    first the attributes set from a parameter whose default is this number, then the ones
    this method uses, then the others (at most three)."""
    if type(node.value) not in (int, float) or isinstance(cx.parent(node), ast.UnaryOp):
        return
    fn = _method(cx, cx.function(node))
    cls = cx.parent(fn) if fn is not None else None
    if not isinstance(cls, ast.ClassDef):
        return
    info = _classes(cx)
    lineage = info.lineage(cls.name)
    here = [attr.attr for attr in cx.scope(cx.function(node)).attrs]
    ranked: list[str] = []
    for class_name in lineage:
        ranked += [attr for attr, default in info.defaults.get(class_name, {}).items() if default == node.value and type(default) is type(node.value)]
    ranked += here + [attr for class_name in lineage for attr in info.attrs.get(class_name, [])]
    start, end = cx.span(node)
    for attr in list(dict.fromkeys(ranked))[:3]:
        add_replacement(out, cx, "const_to_attr", node, start, end, f"self.{attr}")


def name_to_self(cx: Index, node: ast.Name, out: list[Cand]) -> None:
    """A name used as a value in a method (assigned, returned, passed) -> ``self``."""
    if node.id in ("self", "cls", "None", "True", "False") or not isinstance(node.ctx, ast.Load):
        return
    if (type(cx.parent(node)), cx.field(node)) not in _VALUE_SLOTS or _method(cx, cx.function(node)) is None:
        return
    if node.id in _BUILTINS:
        return  # `NotImplemented`, `print`: not a value of this program
    up = cx.parent(node)
    while up is not None and not isinstance(up, ast.stmt):  # a lambda's own parameter stays
        if isinstance(up, ast.Lambda) and node.id in {param.arg for param in up.args.args}:
            return
        up = cx.parent(up)
    start, end = cx.span(node)
    add_replacement(out, cx, "name_to_self", node, start, end, "self")


def unwrap_comprehension(cx: Index, node: ast.ListComp | ast.GeneratorExp, out: list[Cand]) -> None:
    """``[f(x) for x in xs ...]`` -> ``xs``: the comprehension's first iterable, unchanged."""
    gen = node.generators[0]
    if gen.is_async or (len(node.generators) == 1 and not gen.ifs and isinstance(node.elt, ast.Name)
                        and isinstance(gen.target, ast.Name) and node.elt.id == gen.target.id
                        and isinstance(node, ast.GeneratorExp)):
        return  # `(x for x in xs)` -> `xs` changes nothing a test can see
    start, end = cx.span(node)
    if isinstance(node, ast.GeneratorExp) and cx.text[start] == "(":  # its parentheses (a call's) stay
        add_replacement(out, cx, "unwrap_comprehension", node, start + 1, end - 1, cx.seg(gen.iter))
    else:
        add_replacement(out, cx, "unwrap_comprehension", node, start, end, fit(cx.seg(gen.iter), prec(gen.iter), slot(cx, node)))


def method_sibling(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    """``x.time()`` -> ``x.timetz()``: a method of a standard type or of a class of this
    module swapped for a sibling named as its extension (up to three)."""
    func = node.func
    if not isinstance(func, ast.Attribute):
        return
    func_end = cx.span(func)[1]
    if cx.text[func_end - len(func.attr): func_end] != func.attr:
        return
    old = set(METHOD_SWAPS.get(func.attr, ()))
    for sibling in [sibling for sibling in _siblings(_STD_METHODS + _classes(cx).methods, func.attr) if sibling not in old][:3]:
        add_replacement(out, cx, "method_swap", node, func_end - len(func.attr), func_end, sibling)


def encoding_swap(cx: Index, node: ast.Constant, out: list[Cand]) -> None:
    """A codec name -> another common one (``'CP1252'`` -> ``'latin1'``, ``'ascii'`` ->
    ``'utf-8'``), in the literal's own quotes."""
    if not isinstance(node.value, str) or not 3 <= len(node.value) <= 16 or isinstance(cx.parent(node), ast.Expr):
        return
    try:
        info = codecs.lookup(node.value)
    except (LookupError, UnicodeError):  # not a codec name; a lone surrogate cannot even be looked up
        return
    if not getattr(info, "_is_text_encoding", True):
        return  # 'hex', 'zip', 'rot13': codecs, but no text encodings
    old = info.name
    start, end = cx.span(node)
    quote = cx.text[end - 1: end]
    if cx.text[start: end] != quote + node.value + quote:
        return
    for new in _CODECS:
        if codecs.lookup(new).name != old:
            add_replacement(out, cx, "encoding_swap", node, start, end, quote + new + quote)


def regex_quantifier(cx: Index, node: ast.Constant, out: list[Cand]) -> None:
    """Change one quantifier of a one-line regular expression literal: ``+`` <-> ``*``,
    ``?`` dropped, ``{n}`` -> ``{1,n}``; the same edit also at every identical literal."""
    if not isinstance(node.value, (str, bytes)) or node.lineno != last_line(node) or (
            isinstance(cx.parent(node), ast.Expr)):
        return
    start, end = cx.span(node)
    text = cx.text[start:end]
    body = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
    if not _REGEX_HINT.search(body):
        return
    twins = _identical_literals(cx, text, start)
    for match in list(_QUANT.finditer(text))[:6]:
        at = match.start(1) if match.group(1) else match.start()
        if _in_class(text, at):
            continue
        if match.group(1):
            ch = match.group(1)
            if ch == "?" and text[at - 1: at] in ("(", "+", "*", "?", "}"):
                continue
            quant_start, quant_end, new = match.start(1), match.end(1), {"+": "*", "*": "+", "?": ""}[ch]
        else:
            quant_start, quant_end, new = match.start(), match.end(), "{1," + match.group(2) + "}"
        desc = f"`{short(text)}` -> `{short(text[:quant_start] + new + text[quant_end:])}`"
        if twins:  # a pattern written twice is fixed twice: both sites first
            edits = [(start + quant_start, start + quant_end, new)] + [(twin + quant_start, twin + quant_end, new) for twin in twins]
            add_cand(out, "regex_quantifier", node, edits, f"{desc} (and at {len(twins)} identical literals)")
        add_cand(out, "regex_quantifier", node, [(start + quant_start, start + quant_end, new)], desc)


def _in_class(text: str, position: int) -> bool:
    """Is ``position`` of a regex literal inside a ``[...]`` character class?"""
    depth, at = False, 0
    while at < position:
        char = text[at]
        if char == "\\":
            at += 2
            continue
        if char == "[" and not depth:
            depth = True
        elif char == "]" and depth:
            depth = False
        at += 1
    return depth


def _identical_literals(cx: Index, text: str, start: int) -> list[int]:
    """Start offsets of the other string literals of the file spelled exactly ``text``."""
    got = cx.memo(_literals_of)
    return [offset for offset in got.get(text, ()) if offset != start][:4]


def _literals_of(cx: Index) -> dict[str, list[int]]:
    """Text of each one-line string literal of the file -> the offsets where it starts."""
    got: dict[str, list[int]] = {}
    for node in nodes(cx.tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)) and node.lineno == last_line(node):
            lit_start, lit_end = cx.span(node)
            got.setdefault(cx.text[lit_start:lit_end], []).append(lit_start)
    return got


_EXPR = {
    ast.Call: (add_default_arg, method_sibling),
    ast.Constant: (const_to_attr, regex_quantifier, encoding_swap),
    ast.Name: (name_to_self,),
    ast.ListComp: (unwrap_comprehension,),
    ast.GeneratorExp: (unwrap_comprehension,),
}


def expr_mutants(cx: Index, node: ast.expr) -> list[Cand]:
    """Candidates of this module's operators for one expression node (any order)."""
    return run_ops(_EXPR.get(type(node), ()), cx, node)


def stmt_mutants(cx: Index, st: ast.stmt) -> list[Cand]:
    """Candidates of this module's operators for one statement (any order)."""
    return run_ops((wrap_bool,), cx, st)
