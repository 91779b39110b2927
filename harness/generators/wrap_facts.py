"""What the operators of :mod:`.wrap_ops` read from the module around a failure: the names
it binds at top level, the empty literal of a value's kind, the constants a function returns,
whether a class of the module can be built from one argument. Pure: no I/O."""

from __future__ import annotations

import ast

from harness.generators.index import FUNCTION_TYPES, FunctionNode, Index


def module_names(cx: Index) -> set[str]:
    """Names bound at the module's top level (classes, functions, imports, assignments)."""
    names: set[str] = set()
    for node in cx.tree.body:
        if isinstance(node, (ast.ClassDef, *FUNCTION_TYPES)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return names


_EMPTY_BY_NODE = {ast.List: "[]", ast.ListComp: "[]", ast.Dict: "{}", ast.DictComp: "{}", ast.Set: "set()",
                  ast.SetComp: "set()", ast.Tuple: "()"}


def empty_of(node: ast.expr | None) -> str | None:
    """The empty literal of the kind ``node`` builds (``[]`` for a list or list comprehension)."""
    if type(node) in _EMPTY_BY_NODE:
        return _EMPTY_BY_NODE[type(node)]
    if isinstance(node, ast.Constant) and type(node.value) in (str, bytes):
        return "''" if isinstance(node.value, str) else "b''"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("list", "dict", "set", "tuple", "str"):
        return {"list": "[]", "dict": "{}", "set": "set()", "tuple": "()", "str": "''"}[node.func.id]
    return None


def is_literal(node: ast.expr | None) -> bool:
    """A literal a fallback may repeat: a constant, or an empty list/dict/tuple/set."""
    return isinstance(node, ast.Constant) or (empty_of(node) is not None and not getattr(node, "elts", getattr(node, "keys", [0])))


def returned_constants(cx: Index, fn: FunctionNode, skip: ast.stmt | None = None) -> list[str]:
    """The texts of the constants ``fn`` returns (``None``, ``-1``, ``[]``), once each."""
    got = [cx.seg(ret.value) for ret in own_returns(fn) if ret is not skip and ret.value is not None and is_literal(ret.value)]
    return list(dict.fromkeys(text for text in got if "\n" not in text))


def own_returns(fn: FunctionNode) -> list[ast.Return]:
    """``fn``'s own return statements (not those of nested functions)."""
    out: list[ast.Return] = []
    todo: list[ast.AST] = list(fn.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Return):
            out.append(node)
        if not isinstance(node, (*FUNCTION_TYPES, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return sorted(out, key=lambda ret: ret.lineno)


def takes_one(cx: Index, name: str) -> bool:
    """Can ``name(x)`` work: not a class of this module whose ``__init__`` (its own, or
    ``object``'s for a class without bases) takes no argument."""
    cls = next((node for node in cx.tree.body if isinstance(node, ast.ClassDef) and node.name == name), None)
    init = next((node for node in cls.body if isinstance(node, FUNCTION_TYPES) and node.name == "__init__"), None) if cls else None
    if init is not None:
        return bool(init.args.vararg) or len(init.args.posonlyargs + init.args.args) > 1
    return cls is None or any(not (isinstance(base, ast.Name) and base.id == "object") for base in cls.bases)
