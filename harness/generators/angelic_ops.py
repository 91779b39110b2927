"""The conditions the angelic probe synthesized, written as edits (issue 21).

:mod:`harness.core.angelic` ran the failing tests with a condition forced the other way (or a
statement skipped) and found expressions in scope that take the values the forcing needed
(``Context.angelic``). Each becomes one candidate, tried before the blind mutants:

- ``angelic_and``: ``if C:`` -> ``if C and Q:`` (a conjunct the condition lacked);
- ``angelic_or``: ``if C:`` -> ``if C or Q:`` (a case the condition missed);
- ``angelic_guard``: ``S`` -> ``if Q:`` + ``S`` indented (a guard the statement lacked);
- ``angelic_exit``: ``if Q: continue`` (``break``, ``return ...``) inserted before ``S`` (an
  early exit the code lacked).

Pure: files are read through the ``read`` function given; no test is run here.
"""

from __future__ import annotations

import ast

from harness.core.angelic_points import char_offset, conditions_at
from harness.core.context import AngelicFact, Context
from harness.core.localize import is_protected
from harness.generators.data_text import text_key
from harness.generators.message_evidence import Reader
from harness.generators.mutant import Mutant

#: operator id -> its prior, as :data:`harness.generators.message_ops.MESSAGE_PRIORS`.
ANGELIC_PRIORS: dict[str, float] = {"angelic_and": 0.9, "angelic_or": 0.85, "angelic_guard": 0.3,
                                    "angelic_exit": 0.3}
#: candidates handed out at most.
MAX_CANDIDATES = 12
#: each next expression of one fact scores this much less.
DECAY = 0.9
#: score factor of a fact no passing-test evaluation constrained (SPR, Long and Rinard 2015, and
#: later work on overfitting in repair: a condition only the failing test shaped is weak evidence).
UNSUPPORTED = 0.1
_LOOSE = (ast.IfExp, ast.Lambda, ast.NamedExpr)


def _wrap(text: str, node: ast.expr, loose: tuple, weaker: type | None = None) -> str:
    """``text`` (the source of ``node``) in parentheses when ``node`` is one of ``loose`` or a
    ``weaker`` boolean operation (``or`` under a new ``and``)."""
    if isinstance(node, loose) or (weaker is not None and isinstance(node, ast.BoolOp) and isinstance(node.op, weaker)):
        return f"({text})"
    return text


def fact_mutants(fact: AngelicFact, source: str) -> list[Mutant]:
    """The edits of one fact on ``source`` (its file's text), in the fact's expression order;
    empty when the statement is not found at ``fact.line`` or an edit does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    lines = source.splitlines(keepends=True)
    here = [st for st in ast.walk(tree) if isinstance(st, ast.stmt) and st.lineno == fact.line]
    out: list[Mutant] = []
    for q in fact.exprs:
        try:
            q_node = ast.parse(q, mode="eval").body
        except SyntaxError:
            continue
        if fact.kind in ("and", "or"):
            found = _condition(tree, lines, source, fact)
            if found is None:
                return []
            test, start, end, inner = found
            old = source[start:end]
            if fact.kind == "and":
                new = f"{_wrap(old, test, _LOOSE, ast.Or)} and {_wrap(q, q_node, _LOOSE, ast.Or)}"
            else:
                new = f"{_wrap(old, test, _LOOSE)} or {_wrap(q, q_node, _LOOSE)}"
            if inner is not None and not (isinstance(inner, ast.And) and fact.kind == "and"):
                new = f"({new})"  # an operand of an and/or: kept one operand
            operator, desc = f"angelic_{fact.kind}", f"`{_short(old)}` -> `{_short(new)}`"
        elif fact.kind == "exit":
            if not fact.exit or fact.line > len(lines):
                return []
            start = end = sum(len(text) for text in lines[: fact.line - 1])
            text = lines[fact.line - 1]
            indent = text[: len(text) - len(text.lstrip(" \t"))]
            unit = "\t" if indent.startswith("\t") else "    "
            new = f"{indent}if {q}:\n{indent}{unit}{fact.exit}\n"
            operator, desc = "angelic_exit", f"`if {_short(q)}: {fact.exit}` before `{_short(text.strip())}`"
        else:
            st = next((s for s in here if not isinstance(s, (ast.If, ast.For, ast.While, ast.With, ast.Try))), None)
            if st is None or st.end_lineno is None:
                return []
            first, last = st.lineno, st.end_lineno
            start = sum(len(text) for text in lines[: first - 1])
            end = sum(len(text) for text in lines[:last])
            body = source[start:end]
            indent = body[: len(body) - len(body.lstrip(" \t"))]
            unit = "\t" if indent.startswith("\t") else "    "
            if not body.endswith("\n"):
                body += "\n"
            new = f"{indent}if {q}:\n" + "".join(unit + ln if ln.strip() else ln for ln in body.splitlines(keepends=True))
            operator, desc = "angelic_guard", f"`{_short(lines[first - 1].strip())}` guarded by `if {_short(q)}:`"
        result = source[:start] + new + source[end:]
        try:
            ast.parse(result)
        except (SyntaxError, ValueError):
            continue
        out.append(Mutant(operator, fact.path, fact.line, f"line {fact.line}: {desc}", source, start, end, new,
                          text_key(source, result)))
    return out


def _condition(tree: ast.Module, lines: list[str], source: str, fact: AngelicFact):
    """``(node, start, end, op)`` of the fact's condition at its line: the one written as
    ``fact.test`` (else the first), ``op`` the ``and``/``or`` it is an operand of (None: a
    whole test); None when there is none."""
    whole = conditions_at(tree, fact.line)
    parents = {id(v): e.op for e in whole if isinstance(e, ast.BoolOp) for v in e.values}
    for node in whole:
        start = char_offset(lines, node.lineno, node.col_offset)
        end = char_offset(lines, node.end_lineno or node.lineno, node.end_col_offset or 0)
        if not fact.test or source[start:end] == fact.test:
            return node, start, end, parents.get(id(node))
    return None


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def angelic_mutants(context: Context, read: Reader) -> list[tuple[float, Mutant, bool]]:
    """The candidates of ``context.angelic`` as ``(score, mutant, first)`` with score in
    (0, 1], best first (supported facts first, then those that fixed more failing tests, then
    the probe's order; each fact's expressions in its order, :data:`DECAY` apart), at most
    :data:`MAX_CANDIDATES`. ``first``: the fact is a condition edit (``and``/``or``) some
    passing-test evaluation constrained (``AngelicFact.support``), to try before the mutants; a
    guard or an exit (a statement added: a simpler edit of the same line is likelier, e.g.
    ``not`` restored where the probe found ``if not C: return X`` before ``if C: return X``)
    and an unsupported fact are scored among them, the latter times :data:`UNSUPPORTED` (any
    expression false there would have done)."""
    out: list[tuple[float, Mutant, bool]] = []
    facts = sorted(context.angelic, key=lambda f: (f.support == 0, -f.fixed))  # stable: the probe's order on ties
    for fact in facts:
        if is_protected(fact.path, context.protected):
            continue
        source = read(fact.path)
        if source is None:
            continue
        weight = 1.0 if fact.support else UNSUPPORTED
        first = fact.support > 0 and fact.kind in ("and", "or")  # a statement added waits among the mutants
        for i, mutant in enumerate(fact_mutants(fact, source)):
            out.append((ANGELIC_PRIORS[mutant.operator] * weight * DECAY ** i, mutant, first))
    out.sort(key=lambda triple: -triple[0])
    return out[:MAX_CANDIDATES]
