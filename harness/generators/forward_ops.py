"""A parameter the caller was given, forwarded to a callee that takes it: an operator behind
:func:`harness.generators.mutations.mutants_at` for one of the most frequent one-statement
fixes of real Python code ("Same Function More Args" and "Change Keyword Argument Used" of
PySStuBs, Kamienski et al., MSR 2021): a public function takes an option and forgets to pass
it on.

``forward_param`` offers, at a call whose callee is defined in the same file (a function, a
method of the enclosing class or of any class here, a class through its ``__init__``, the
base of this file ``super()`` names) or in a module of the repository the file imports it
from (``from .utils import f``, ``from . import utils`` / ``utils.f``; read through the
``read`` callable :func:`~harness.generators.mutations.mutants_at` is given):

- ``f(x)`` -> ``f(x, alg=alg)`` when the enclosing function has a parameter ``alg`` and the
  callee has a parameter of that very name that the call leaves unbound (positionally or by
  keyword); a parameter the enclosing function never reads is offered first;
- ``f(x, strict=False)`` -> ``f(x, strict=strict)`` when the keyword's value is a constant and
  the enclosing function has a parameter of the keyword's name;
- ``f(x)`` -> ``f(x, **kwargs)`` (and ``*args``) when both functions take them and the call
  passes none.

``sibling_keyword`` gives a call a keyword argument the other calls of the same function in
the file pass (``json.dumps(data)`` -> ``json.dumps(data, sort_keys=True)`` when another
``json.dumps`` call passes ``sort_keys=True``), a constant or a name in scope at the call,
the most frequent first: the call made like its kin.

The name match is the evidence: no parameter is invented, none is passed that the callee
does not declare. Edits are character offsets into the original text, as in
:mod:`harness.generators.edit_text`.
"""

from __future__ import annotations

import ast
import posixpath
from dataclasses import dataclass

from harness.generators.edit_text import module_names, Cand, add_cand, run_ops
from harness.generators.index import FunctionNode, Index
from harness.generators.facts import shared
from harness.core.tree_memo import below, nodes

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SELF = ("self", "cls")


@dataclass(frozen=True)
class _Signature:
    """A definition's parameters: ``positional`` in order (``self`` included for a method),
    ``keyword_only``, and whether it takes ``*args`` / ``**kwargs``."""

    positional: tuple[str, ...]
    keyword_only: tuple[str, ...]
    star: bool
    double_star: bool
    method: bool


def _signature(fn: FunctionNode, method: bool) -> _Signature:
    args = fn.args
    return _Signature(tuple(a.arg for a in args.posonlyargs + args.args), tuple(a.arg for a in args.kwonlyargs),
                      args.vararg is not None, args.kwarg is not None, method)


@dataclass
class _Defs:
    """The file's definitions: signatures by the name a call spells (every function and
    method, and each class by its name with its ``__init__``'s), and per class its methods
    and the names of its bases."""

    by_name: dict[str, list[_Signature]]
    classes: dict[str, ast.ClassDef]


def _defs_of(tree: ast.AST) -> _Defs:
    defs = _Defs({}, {})
    todo: list[tuple[ast.AST, bool]] = [(tree, False)]  # (node, a class's body holds it)
    while todo:
        node, in_class = todo.pop()
        if isinstance(node, _FUNCS):
            defs.by_name.setdefault(node.name, []).append(_signature(node, in_class))
        elif isinstance(node, ast.ClassDef):
            defs.classes.setdefault(node.name, node)
            for item in node.body:
                if isinstance(item, _FUNCS) and item.name == "__init__":
                    defs.by_name.setdefault(node.name, []).append(_signature(item, True))
        todo += [(child, isinstance(node, ast.ClassDef)) for child in ast.iter_child_nodes(node)]
    return defs


def _new_defs(cx: Index) -> _Defs:
    return _defs_of(cx.tree)


def _new_imports(cx: Index) -> dict[str, tuple[str, str]]:
    """Names the file imports: local name -> (the module as the import spells it, leading
    dots included; the name taken from it, '' for a module imported whole)."""
    out: dict[str, tuple[str, str]] = {}
    for node in nodes(cx.tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                out[alias.asname or alias.name] = ("." * node.level + (node.module or ""), alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname or "." not in alias.name:
                    out[alias.asname or alias.name] = (alias.name, "")
    return out


def module_files(path: str, dotted: str) -> list[str]:
    """Where module ``dotted`` (leading dots: relative to ``path``'s package) may live in the
    repository, repo-relative, most likely first: ``pkg/mod.py`` then ``pkg/mod/__init__.py``;
    an absolute name is looked for under each directory holding ``path`` (``src/`` layouts)."""
    level = len(dotted) - len(dotted.lstrip("."))
    rest = dotted.lstrip(".").replace(".", "/")
    here = posixpath.dirname(path)
    for _ in range(level - 1):
        here = posixpath.dirname(here)
    bases = [here]
    while not level and here:
        here = posixpath.dirname(here)
        bases.append(here)
    stems = [posixpath.join(base, rest) if rest else base for base in bases]
    return [item for stem in stems if stem for item in (f"{stem}.py", f"{stem}/__init__.py")]


#: another module's definitions by its text: the last few (a search asks the same ones).
_OTHER: dict[str, _Defs | None] = {}
#: a module longer than this (characters) is not parsed for its signatures.
MAX_OTHER = 400_000


def _other_defs(cx: Index, dotted: str) -> _Defs | None:
    """The definitions of module ``dotted`` as this file imports it; None when it is not in the
    repository or cannot be read or parsed."""
    read = cx.read
    if read is None or not cx.path:
        return None
    for candidate in module_files(cx.path, dotted):
        text = read(candidate)
        if text is None or len(text) > MAX_OTHER:
            continue
        if text not in _OTHER:
            if len(_OTHER) >= 8:
                _OTHER.pop(next(iter(_OTHER)))
            try:
                _OTHER[text] = _defs_of(ast.parse(text))
            except (SyntaxError, ValueError):
                _OTHER[text] = None
        return _OTHER[text]
    return None


def _imported(cx: Index, func: ast.Name | ast.Attribute) -> list[_Signature]:
    """The signatures of a callee another module of the repository defines: ``f`` from
    ``from .mod import f``, ``mod.f`` from ``from . import mod`` or ``import pkg.mod as mod``."""
    imports = shared(cx, _new_imports)
    if isinstance(func, ast.Name) and func.id in imports:
        module, name = imports[func.id]
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in imports:
        module, taken = imports[func.value.id]
        if taken:  # `from . import mod` / `from pkg import mod`: the submodule
            module = f"{module}.{taken}" if module.strip(".") else module + taken
        name = func.attr
    else:
        return []
    defs = _other_defs(cx, module)
    return defs.by_name.get(name, []) if defs else []


def _callees(cx: Index, fn: FunctionNode, func: ast.Name | ast.Attribute) -> list[_Signature]:
    """The signatures a call's function may be: by name, except ``super().m``, which is the
    ``m`` of the enclosing class's bases defined in this file (none when they are elsewhere)."""
    defs = shared(cx, _new_defs)
    if isinstance(func, ast.Name):
        return defs.by_name.get(func.id) or _imported(cx, func)
    base = func.value
    if not (isinstance(base, ast.Call) and isinstance(base.func, ast.Name) and base.func.id == "super"):
        return defs.by_name.get(func.attr) or _imported(cx, func)
    owner = next((cls for cls in defs.classes.values() if fn in cls.body), None)
    bases = [defs.classes.get(b.id) for b in owner.bases if isinstance(b, ast.Name)] if owner else []
    return [_signature(item, True) for cls in bases if cls is not None for item in cls.body
            if isinstance(item, _FUNCS) and item.name == func.attr]


def _reads(tree: ast.AST, fn: FunctionNode) -> set[str]:
    """Names the function's body reads (``fn`` a node of the module ``tree``)."""
    body = fn.body if isinstance(fn.body, list) else [fn.body]
    return {node.id for st in body for node in below(tree, st)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def _unbound(sig: _Signature, call: ast.Call) -> list[str]:
    """The callee's parameters this call binds neither by position nor by keyword (a
    method's ``self``/``cls`` is bound by the call's object)."""
    positional = sig.positional[1:] if sig.method and sig.positional[:1] in (("self",), ("cls",)) else sig.positional
    named = {kw.arg for kw in call.keywords}
    return [p for p in positional[len(call.args):] + sig.keyword_only if p not in named and p not in _SELF]


def forward_param(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    """Pass a parameter of the enclosing function on to a callee of this file that declares
    it (see the module docstring)."""
    fn = cx.function(node)
    func = node.func
    if fn is None or isinstance(fn, ast.Lambda) or not isinstance(func, (ast.Name, ast.Attribute)):
        return
    sigs = _callees(cx, fn, func)
    if not sigs or any(isinstance(arg, ast.Starred) for arg in node.args) or any(
            kw.arg is None for kw in node.keywords):
        return  # a splat binds what we cannot see
    args = fn.args
    params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs if a.arg not in _SELF]
    reads = _reads(cx.tree, fn)
    passed = {sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name)}
    end = max([cx.span(arg)[1] for arg in node.args] + [cx.span(kw)[1] for kw in node.keywords], default=-1)
    paren = cx.text.find("(", cx.span(func)[1], cx.span(node)[1])
    at, comma = (end, ", ") if end >= 0 else (paren + 1, "")
    wanted: list[str] = []
    for sig in sigs:
        wanted += [p for p in _unbound(sig, node) if p in params and p not in passed]
    for p in sorted(dict.fromkeys(wanted), key=lambda p: p in reads):  # a parameter never read first
        add_cand(out, "forward_param", node, [(at, at, f"{comma}{p}={p}")], f"pass `{p}={p}` on")
    for kw in node.keywords:
        if kw.arg in params and isinstance(kw.value, ast.Constant):
            start, stop = cx.span(kw.value)
            add_cand(out, "forward_param", node, [(start, stop, kw.arg)], f"pass `{kw.arg}={kw.arg}` on")
    if args.kwarg is not None and any(sig.double_star for sig in sigs) and args.kwarg.arg not in passed:
        add_cand(out, "forward_param", node, [(at, at, f"{comma}**{args.kwarg.arg}")], f"pass `**{args.kwarg.arg}` on")
    if args.vararg is not None and any(sig.star for sig in sigs) and args.vararg.arg not in passed:
        after = cx.span(node.args[-1])[1] if node.args else paren + 1
        text = f", *{args.vararg.arg}" if node.args else f"*{args.vararg.arg}" + (", " if node.keywords else "")
        add_cand(out, "forward_param", node, [(after, after, text)], f"pass `*{args.vararg.arg}` on")


#: keywords a call is offered from its kin, at most.
MAX_SIBLING_KEYWORDS = 3


def _new_keywords(cx: Index) -> dict[str, list[tuple[str, ast.expr]]]:
    """Keyword arguments of every call in the file by the callee's text: ``json.dumps`` ->
    ``[("sort_keys", <Constant True>), ...]``."""
    out: dict[str, list[tuple[str, ast.expr]]] = {}
    for node in nodes(cx.tree):
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
            out.setdefault(ast.unparse(node.func), []).extend((kw.arg, kw.value) for kw in node.keywords if kw.arg)
    return out


def sibling_keyword(cx: Index, node: ast.Call, out: list[Cand]) -> None:
    """A keyword argument the file's other calls of this function pass, added to this call."""
    if not isinstance(node.func, (ast.Name, ast.Attribute)) or any(kw.arg is None for kw in node.keywords):
        return
    have = {kw.arg for kw in node.keywords}
    near = set(cx.names_near(cx.function(node), node.lineno)) | set(cx.memo(_module_names))
    counts: dict[str, int] = {}
    for name, value in shared(cx, _new_keywords).get(ast.unparse(node.func), []):
        if name in have or not (isinstance(value, ast.Constant) or (isinstance(value, ast.Name) and value.id in near)):
            continue
        text = f"{name}={cx.seg(value)}"  # as the file spells it
        if "\n" in text:
            continue
        counts[text] = counts.get(text, 0) + 1
    end = max([cx.span(arg)[1] for arg in node.args] + [cx.span(kw)[1] for kw in node.keywords], default=-1)
    paren = cx.text.find("(", cx.span(node.func)[1], cx.span(node)[1])
    at, comma = (end, ", ") if end >= 0 else (paren + 1, "")
    for text in sorted(counts, key=lambda t: -counts[t])[:MAX_SIBLING_KEYWORDS]:
        add_cand(out, "sibling_keyword", node, [(at, at, f"{comma}{text}")], f"pass `{text}` as the other calls do")


def _module_names(cx: Index) -> set[str]:
    return module_names(cx.tree)


def expr_mutants(cx: Index, node: ast.expr) -> list[Cand]:
    """Candidates of this module's operators for one expression node (any order)."""
    return run_ops((forward_param, sibling_keyword), cx, node) if isinstance(node, ast.Call) else []
