"""The value of a regular expression a module builds from string literals and tables of them
(``re.compile("|".join(DAYS))``): what :mod:`.regex_more` checks a case-insensitive flag on
when the pattern is no single literal. Pure: no I/O, nothing of the module is run.
"""

from __future__ import annotations

import ast
import re


def bound_names(tree: ast.Module) -> dict[str, ast.expr]:
    """Module-level names bound once by a plain assignment -> the assigned expression."""
    out: dict[str, ast.expr] = {}
    seen: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in seen:
                out.pop(name, None)
            else:
                out[name] = node.value
            seen.add(name)
    return out


def built(node: ast.expr, bound: dict[str, ast.expr], depth: int = 0) -> str | list[str] | None:
    """The value of a pattern the module builds from string literals and tables of them
    (``"|".join(DAYS)``, ``r"\\b(%s)\\b" % "|".join(map(re.escape, WORDS))``, ``+``, f-strings,
    ``sorted``), a string or a list of strings; None when anything else takes part."""
    if depth > 8:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in bound:
        return built(bound[node.id], bound, depth + 1)
    if isinstance(node, (ast.List, ast.Tuple, ast.Dict)):
        values = [built(e, bound, depth + 1) for e in (node.keys if isinstance(node, ast.Dict) else node.elts) if e is not None]
        strings = [v for v in values if isinstance(v, str)]
        return strings if len(strings) == len(values) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        left, right = built(node.left, bound, depth + 1), built(node.right, bound, depth + 1)
        if isinstance(left, str) and isinstance(node.op, ast.Add) and isinstance(right, str):
            return left + right
        if isinstance(left, str) and isinstance(node.op, ast.Mod) and right is not None \
                and not re.search(r"%[-+ #0]*(?:\d{3,}|\*)", left):  # no width that would blow it up
            try:
                return left % (tuple(right) if isinstance(right, list) else right)
            except (TypeError, ValueError):
                return None
        return None
    if isinstance(node, ast.JoinedStr):
        parts = [built(v.value, bound, depth + 1) if isinstance(v, ast.FormattedValue) and v.conversion == -1
                 and v.format_spec is None else built(v, bound, depth + 1) for v in node.values]
        texts = [p for p in parts if isinstance(p, str)]
        return "".join(texts) if len(texts) == len(parts) else None
    if isinstance(node, (ast.GeneratorExp, ast.ListComp)) and len(node.generators) == 1:
        loop = node.generators[0]
        items = built(loop.iter, bound, depth + 1)
        if isinstance(loop.target, ast.Name) and not loop.ifs and isinstance(items, list):
            escaped = _escape_call(node.elt, loop.target.id)
            if escaped is not None:
                return [re.escape(i) for i in items] if escaped else items
        return None
    if isinstance(node, ast.Call):
        return _built_call(node, bound, depth)
    return None


def _escape_call(elt: ast.expr, name: str) -> bool | None:
    """True for ``re.escape(name)``, False for ``name``, None for anything else."""
    if isinstance(elt, ast.Name) and elt.id == name:
        return False
    is_escape = (isinstance(elt, ast.Call) and isinstance(elt.func, ast.Attribute) and elt.func.attr == "escape"
                 and len(elt.args) == 1 and isinstance(elt.args[0], ast.Name) and elt.args[0].id == name)
    return True if is_escape else None


def _built_call(node: ast.Call, bound: dict[str, ast.expr], depth: int) -> str | list[str] | None:
    """:func:`built` of ``sep.join(items)``, ``re.escape(s)``, ``map(re.escape, items)``, ``sorted(items)``."""
    func, args = node.func, [built(a, bound, depth + 1) for a in node.args]
    if isinstance(func, ast.Attribute) and func.attr == "join" and len(args) == 1 and isinstance(args[0], list):
        sep = built(func.value, bound, depth + 1)
        return sep.join(args[0]) if isinstance(sep, str) else None
    if isinstance(func, ast.Attribute) and func.attr == "escape" and len(args) == 1 and isinstance(args[0], str):
        return re.escape(args[0])
    if isinstance(func, ast.Name) and func.id == "map" and len(node.args) == 2 and isinstance(args[1], list):
        escape = isinstance(node.args[0], ast.Attribute) and node.args[0].attr == "escape"
        return [re.escape(i) for i in args[1]] if escape else None
    if isinstance(func, ast.Name) and func.id == "sorted" and len(args) == 1 and isinstance(args[0], list):
        keywords = {kw.arg: kw.value for kw in node.keywords}
        key, rev = keywords.get("key"), keywords.get("reverse")
        by_len = isinstance(key, ast.Name) and key.id == "len"
        reverse = isinstance(rev, ast.Constant) and rev.value is True
        if set(keywords) - {"key", "reverse"} or (key is not None and not by_len):
            return None
        return sorted(args[0], key=len, reverse=reverse) if by_len else sorted(args[0], reverse=reverse)
    return None
