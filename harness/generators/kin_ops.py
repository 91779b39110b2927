"""Edits restored from the same file's kin: operators behind
:func:`harness.generators.mutations.mutants_at` for two bug kinds real developers make
(issue 21) that the edits of :mod:`._synth_ops` miss in everyday code:

- ``restore_method`` in the middle of a chain: ``enc(x).decode()`` -> ``enc(x).rstrip(b"=").decode()``
  when another call of ``enc`` in the file is followed by ``.rstrip(b"=")`` (the older
  operator only appends to a call that nothing follows);
- ``dict_key`` from the dict's kin: a string key replaced by a key of a dict literal of the
  same shape in the file (one that holds another key this mapping is read with: the dict
  ``make_user`` returns, read as ``user["name"]``), keys never read first; and in an
  f-string (``f"{user['mail']}"``), where the parser gives no positions inside.

Only the :class:`harness.generators.index.Index`'s text, tree, spans and ``memo`` and the
node's own fields are read (no node record: the f-string's insides have none). Edits are
character offsets into the original text, as in :mod:`harness.generators.edit_text`.
"""

from __future__ import annotations

import ast
import re
from harness.generators.edit_text import Cand, add_cand, run_ops, short
from harness.generators.index import Index
from harness.generators.synth_ops import method_tails
from harness.core.tree_memo import nodes

_Q = r"([\"'])([^\"'\\\n{}]{1,40})\1"
#: ``base["key"]`` inside an f-string's text: (base, quote, key).
_FSTR_KEY = re.compile(r"([A-Za-z_][\w.]*)\[\s*([\"'])([^\"'\\\n{}]{1,40})\2\s*\]")
_LOOKUPS = ("get", "pop", "setdefault")
#: keys offered per site.
MAX_KEYS = 3


def _new_read(cx: Index) -> dict[str, list[str]]:
    return {}


def _read_keys(cx: Index, base: str) -> list[str]:
    """The string keys ``base`` is read with in the file (``base["k"]``, ``base.get("k"``,
    ``"k" in base``), in order, each once."""
    cache = cx.memo(_new_read)
    if base not in cache:
        b = re.escape(base)
        found = [m.group(2) for m in re.finditer(rf"(?<![\w.]){b}(?:\s*\[\s*|\.(?:get|pop|setdefault)\(){_Q}", cx.text)]
        found += [m.group(2) for m in re.finditer(rf"{_Q}\s+(?:not\s+)?in\s+{b}(?![\w.])", cx.text)]
        cache[base] = list(dict.fromkeys(found))
    return cache[base]


def _literals(cx: Index) -> list[list[str]]:
    """The string keys of each dict display in the file with two or more of them
    (``{"name": n, "email": e}``, ``dict(name=n, email=e)``), in order (built once per index)."""
    got = []
    for n in nodes(cx.tree):
        keys: list[str]
        if isinstance(n, ast.Dict):
            keys = [k.value for k in n.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "dict":
            keys = [k.arg for k in n.keywords if k.arg]
        else:
            continue
        if len(keys) >= 2:
            got.append(keys)
    return got


def kin_keys(cx: Index, base: str, key: str) -> list[str]:
    """Keys ``key`` may have been meant as, for mapping ``base``: the other keys of every dict
    display that holds a key ``base`` is read with (other than ``key``) - those ``base`` is
    never read with first - then the other keys ``base`` is read with."""
    read = [k for k in _read_keys(cx, base) if k != key]
    kin: list[str] = []
    for keys in cx.memo(_literals):
        if key not in keys and any(k in keys for k in read):
            kin += [k for k in keys if k != key]
    kin = list(dict.fromkeys(kin))
    ordered = [k for k in kin if k not in read] + [k for k in kin if k in read] + read
    return [k for k in dict.fromkeys(ordered) if not any(c in k for c in "\\'\"\n{}")]


def dict_key_kin(cx: Index, node: ast.expr, out: list[Cand]) -> None:
    """``base["k"]`` / ``base.get("k"...)`` -> another key of ``base``'s kin (:func:`kin_keys`),
    in the literal's own quotes (up to :data:`MAX_KEYS`)."""
    if isinstance(node, ast.Subscript):
        base, lit = node.value, node.slice
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _LOOKUPS \
            and node.args:
        base, lit = node.func.value, node.args[0]
    else:
        return
    if not (isinstance(lit, ast.Constant) and isinstance(lit.value, str)):
        return
    s, e = cx.span(lit)
    q = cx.text[e - 1:e]
    if q not in "'\"" or cx.text[s:e] != q + lit.value + q:
        return
    name = cx.seg(base)
    if "\n" in name:
        return
    for k in kin_keys(cx, name, lit.value)[:MAX_KEYS]:
        add_cand(out, "dict_key", lit, [(s, e, q + k + q)], f"`{short(cx.text[s:e])}` -> `{q + k + q}` (a key of the same dict)")


def fstring_dict_key(cx: Index, node: ast.expr, out: list[Cand]) -> None:
    """In an f-string's text, ``base['k']`` -> another key of ``base``'s kin (up to
    :data:`MAX_KEYS` per lookup): the parser gives no positions inside an f-string."""
    if not isinstance(node, ast.JoinedStr):
        return
    s, _ = cx.span(node)
    for m in _FSTR_KEY.finditer(cx.seg(node)):
        base, q, key = m.group(1), m.group(2), m.group(3)
        ks, ke = s + m.start(2), s + m.end(3) + 1
        for k in kin_keys(cx, base, key)[:MAX_KEYS]:
            if q not in k:
                add_cand(out, "dict_key", node, [(ks, ke, q + k + q)],
                      f"`{base}[{q}{key}{q}]` -> `{base}[{q}{k}{q}]` (a key of the same dict)")


def restore_method_in_chain(cx: Index, node: ast.expr, out: list[Cand]) -> None:
    """``f(x).m()`` -> ``f(x).t(...).m()`` when another call of ``f`` in the file is followed
    by ``.t(...)`` and this one is followed by another method (up to two)."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Call)):
        return
    inner = node.func.value
    if not isinstance(inner.func, (ast.Name, ast.Attribute)):
        return
    callee = cx.seg(inner.func)
    if "\n" in callee:
        return
    e = cx.span(inner)[1]
    here = cx.text[e:cx.span(node)[1]]
    for t in [t for t in method_tails(cx, callee) if not here.startswith(t)][:2]:
        add_cand(out, "restore_method", inner, [(e, e, t)], f"restore `{short(t)}` after `{short(cx.seg(inner))}`")


_EXPR: dict[type[ast.expr], tuple] = {
    ast.Subscript: (dict_key_kin,),
    ast.Call: (dict_key_kin, restore_method_in_chain),
    ast.JoinedStr: (fstring_dict_key,),
}


def expr_mutants(cx: Index, node: ast.expr) -> list[Cand]:
    """Candidates of this module's operators for one expression node (any order)."""
    return run_ops(_EXPR.get(type(node), ()), cx, node)
