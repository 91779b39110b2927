"""An object restored without its ``__init__``: an operator behind
:func:`harness.generators.mutations.mutants_at` for a pitfall of Python's pickle protocol.

``pickle.loads`` (and ``copy.copy``) make the object with ``cls.__new__`` and hand the saved
state to ``__setstate__``; ``__init__`` never runs. A ``__setstate__`` that restores only
the saved fields leaves out every attribute ``__init__`` computes (a lock, a cache, a
counter), and the restored object lacks them (``AttributeError``, or ``hasattr`` false
with ``__slots__``). The documented remedy (the ``pickle`` docs, "Handling Stateful
Objects") is to rebuild those attributes in ``__setstate__``.

``restore_init`` offers, after the last statement of a ``__setstate__`` that does not
update ``self.__dict__`` wholesale:

- a call of the ``__init__`` of the class or of a base class defined in the module that
  sets an attribute ``__setstate__`` leaves out, when every one of its parameters is an
  attribute ``__setstate__`` restores: ``AbstractKey.__init__(self, self.n, self.e)``
  (fewest parameters first);
- the ``__init__`` statements that set such attributes from no parameter, copied
  (``self.mutex = threading.Lock()``).

Edits are character offsets into the original text, as in :mod:`harness.generators.edit_text`.
"""

from __future__ import annotations

import ast

from harness.generators.edit_text import Cand, line_indent, run_ops
from harness.generators.index import FunctionNode, Index
from harness.generators.insert_ops import insert_line

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _self_attrs(node: ast.AST, me: str) -> set[str]:
    """Attributes ``node`` (a method or one of its statements) assigns on ``me``, the method's
    first parameter (``self.a = self.b = ...``, tuple targets too)."""
    return {t.attr for t in ast.walk(node) if isinstance(t, ast.Attribute) and isinstance(t.ctx, ast.Store)
            and isinstance(t.value, ast.Name) and t.value.id == me}


def _me(fn: FunctionNode) -> str:
    return fn.args.args[0].arg if fn.args.args else "self"


def _classes(tree: ast.Module) -> dict[str, ast.ClassDef]:
    return {node.name: node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}


def _method(cls: ast.ClassDef, name: str) -> FunctionNode | None:
    return next((n for n in cls.body if isinstance(n, _FUNCS) and n.name == name), None)


def _chain(cls: ast.ClassDef, classes: dict[str, ast.ClassDef]) -> list[ast.ClassDef]:
    """``cls`` and its bases defined in the module, depth first (no class twice)."""
    out: list[ast.ClassDef] = []
    todo = [cls]
    while todo:
        here = todo.pop(0)
        if here in out:
            continue
        out.append(here)
        todo += [classes[b.id] for b in here.bases if isinstance(b, ast.Name) and b.id in classes]
    return out


def _init_attrs(cls: ast.ClassDef, classes: dict[str, ast.ClassDef]) -> set[str]:
    """Attributes ``cls``'s ``__init__`` sets, with those of the base ``__init__`` it runs
    (``Base.__init__(self, ...)`` or ``super().__init__(...)``) or inherits."""
    for here in _chain(cls, classes):
        init = _method(here, "__init__")
        if init is None:
            continue
        attrs = _self_attrs(init, _me(init))
        for node in ast.walk(init):
            func = node.func if isinstance(node, ast.Call) else None
            if isinstance(func, ast.Attribute) and func.attr == "__init__":
                owner = func.value
                base = classes.get(owner.id) if isinstance(owner, ast.Name) else None
                if isinstance(owner, ast.Call) and getattr(owner.func, "id", "") == "super":
                    base = next((classes[b.id] for b in here.bases if isinstance(b, ast.Name) and b.id in classes), None)
                if base is not None and base is not here:
                    attrs |= _init_attrs(base, classes)
        return attrs
    return set()


def restore_init(cx: Index, st: ast.stmt, out: list[Cand]) -> None:
    """After a ``__setstate__``'s last statement: the ``__init__`` call or statements that set
    the attributes it leaves out (the module docstring)."""
    fn = cx.function(st)
    if not isinstance(fn, _FUNCS) or fn.name != "__setstate__" or not fn.args.args:
        return
    last = fn.body[-1]
    if any(isinstance(n, ast.Attribute) and n.attr == "__dict__" for n in ast.walk(fn)) or isinstance(last, ast.Return):
        return
    classes = _classes(cx.tree)
    cls = next((c for c in classes.values() if fn in c.body), None)
    if cls is None:
        return
    restored = _self_attrs(fn, _me(fn))
    me = fn.args.args[0].arg
    calls = []
    for here in _chain(cls, classes):
        init = _method(here, "__init__")
        if init is None or init.args.vararg or init.args.kwarg or init.args.kwonlyargs:
            continue
        params = [a.arg for a in [*init.args.posonlyargs, *init.args.args][1:]]
        if (_init_attrs(here, classes) - restored) and all(p in restored for p in params):
            calls.append((len(params), f"{here.name}.__init__({', '.join([me, *(f'{me}.{p}' for p in params)])})"))
    for _, call in sorted(calls):
        insert_line(cx, last, call, "restore_init", "after the state is restored (pickle skips __init__)", out)
    copied = [cx.seg(s) for init in (_method(c, "__init__") for c in _chain(cls, classes)) if init is not None
              and init.args.args and init.args.args[0].arg == me for s in init.body if _copyable(cx, s, init, restored)]
    if copied:
        indent = line_indent(cx, cx.first_line(last))
        body = (cx.newline(last.lineno) + indent).join(dict.fromkeys(copied))
        insert_line(cx, last, body, "restore_init", "after the state is restored (pickle skips __init__)", out)


def _copyable(cx: Index, st: ast.stmt, init: FunctionNode, restored: set[str]) -> bool:
    """Is ``st`` a one-line assignment of ``init`` that sets an attribute ``__setstate__`` does
    not restore from no parameter of ``init``?"""
    params = {a.arg for a in ast.walk(init.args) if isinstance(a, ast.arg)} - {init.args.args[0].arg}
    return (isinstance(st, ast.Assign) and "\n" not in cx.seg(st) and bool(_self_attrs(st, _me(init)) - restored)
            and not {n.id for n in ast.walk(st) if isinstance(n, ast.Name)} & params)


def stmt_mutants(cx: Index, st: ast.stmt) -> list[Cand]:
    """Candidates of this module's operator for one statement (any order)."""
    return run_ops((restore_init,), cx, st)
