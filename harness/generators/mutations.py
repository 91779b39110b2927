"""AST mutation operators for the offline ``templates`` repairer.

The ``templates`` generator is a generate-and-validate program repairer: fault
localization ranks suspicious lines, this module produces candidate one-edit
fixes at those lines, and the generator's caller tests each. The operators
follow the automated-program-repair literature: GenProg's statement deletion,
insertion and replacement (Le Goues et al., TSE 2012), PraPR's bytecode-level
mutators - operator, constant, variable, method and condition mutations
(Ghanbari et al., ISSTA 2019), and TBar's fix templates - null-pointer
checkers, condition mutation and insertion, return-value mutation, argument
swapping (Liu et al., ISSTA 2019). The priors lean on the frequencies of
single-statement bug fixes reported by ManySStuBs4J (Karampatsis & Sutton,
MSR 2020) and PySStuBs (Kamienski et al., MSR 2021), and on which TBar
templates fixed Defects4J bugs most often.

Every edit is a text splice at an AST node's position, so the rest of the
file - comments, formatting - stays byte-identical and the diff is minimal.
This module is pure: no I/O, no side effects.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterable, Mapping

from harness.generators import (
    cond_ops, default_ops, donor_ops, exit_ops, forward_ops, guard_ops, insert_ops, kin_ops, member_ops, move_ops, mutation_ops, pitfall_ops, prelude_ops, reach_ops,
    restore_ops, result_ops,
    stmt_ops, synth_ops, value_ops, wrap_ops,
)
from harness.generators.edit_text import Cand
from harness.generators.data_text import parsed
from harness.generators.index import Index, last_line
from harness.generators.mutant import Mutant
from harness.generators.parse_check import canonical, splice, valid_many
from harness.generators.syntax_fix import syntax_repairs

__all__ = ["CRASHES", "MAX_PER_LINE", "OPERATOR_PRIORS", "Mutant", "mutants_at", "take_crashes"]


#: operator id -> prior in (0, 1]: how often this kind of single edit is the
#: right fix in practice (higher is tried first).
OPERATOR_PRIORS: dict[str, float] = {
    "compare_swap": 0.60,
    "const_off_by_one": 0.50, "range_arg_off_by_one": 0.50,
    "index_off_by_one": 0.45, "slice_bound_off_by_one": 0.45, "binop_swap": 0.45,
    "boolop_swap": 0.40, "negate_condition": 0.40, "min_max": 0.40, "any_all": 0.40,
    "augassign_swap": 0.35, "bool_const_swap": 0.35,
    "guard_insert": 0.30, "drop_operand": 0.30, "method_swap": 0.30,
    "return_value": 0.25, "replace_name": 0.25, "swap_operands": 0.25, "swap_call_args": 0.25,
    "unaryop_drop": 0.25, "negate_value": 0.25,
    "add_conjunct": 0.20, "add_disjunct": 0.20, "assign_swap": 0.20, "call_drop": 0.20,
    "bitop_swap": 0.20,
    "is_eq_swap": 0.15, "delete_statement": 0.15,
    "insert_nearby_statement": 0.10,
    # reach_ops (issue 9): edits of real one-line fixes the operators above miss
    "call_arity": 0.30, "const_cond_to_name": 0.30, "drop_term": 0.20, "attr_swap": 0.20,
    "unwrap_call": 0.12, "wrap_call": 0.10, "name_to_slice": 0.10, "swap_commutative": 0.12,
    "add_term": 0.10, "copy_renamed": 0.08,
    # value_ops: edits of real release regressions (evals/suites/release-pairs.yaml); a
    # lookup default (`pop(k, None)`) before call_arity's added variable
    "add_default_arg": 0.35, "wrap_bool": 0.20, "regex_quantifier": 0.20, "const_to_attr": 0.15,
    "name_to_self": 0.15, "encoding_swap": 0.20, "unwrap_comprehension": 0.12,
    # synth_ops and insert_ops (issue 21): edits built from two in-scope things, result
    # shapes, and whole statements the code implies; one candidate per site first
    "return_call": 0.30, "return_nested_empty": 0.25, "dict_key": 0.22, "restore_method": 0.22,
    "swap_index": 0.20, "sibling_arg": 0.18, "default_arg_value": 0.15, "assign_max_min": 0.15,
    "return_compare": 0.15, "restore_statement": 0.14, "branch_statement": 0.14, "insert_append": 0.12, "carry_forward": 0.12,
    "name_arith": 0.10, "slice_by_name": 0.10, "raise_power": 0.07,
    # wrap_ops (issue 21): a guard, a conversion or a try/except the failure asks for
    "convert_param": 0.15, "normalize_param": 0.14, "early_return": 0.13, "wrap_try": 0.12,
    # guard_ops (issue 21): a return guarded by its value, a conversion the name gets elsewhere
    "same_conversion": 0.20, "return_guard": 0.20,
    # forward_ops (issue 21): a parameter of the caller passed on to a callee that declares it
    "forward_param": 0.30, "sibling_keyword": 0.20,
    # move_ops (issue 21): a statement at the wrong spot moved one step
    "move_out": 0.12, "move_in": 0.12, "swap_statements": 0.10,
    # result_ops (issue 21): a new value a call returns kept instead of thrown away
    "keep_result": 0.25,
    # default_ops (issue 21): a mutable default argument made at each call
    "mutable_default": 0.25,
    # pitfall_ops (issue 21): Python pitfalls linters name, with their documented fixes
    "f_prefix": 0.30, "late_binding": 0.25, "strip_affix": 0.25, "sorted_copy": 0.25, "copy_iterated": 0.25,
    "split_concat": 0.30, "one_tuple": 0.25, "setdefault_lost": 0.30, "type_compare": 0.25, "find_truthy": 0.30,
    "not_implemented": 0.35, "hash_eq": 0.35, "len_bool": 0.2,
    # restore_ops (issue 21): a __setstate__ that skips what __init__ sets (pickle never runs it)
    "restore_init": 0.30,
    # prelude_ops (issue 21): a value given the preparation another path into the same parser gives it
    "sink_prelude": 0.20,
    # member_ops (issue 21): a collection's stored members normalized like the key looked up in it
    "normalize_members": 0.25,
    # exit_ops (issue 21): a loop that leaves too late or too early
    "insert_break": 0.12, "break_continue": 0.20,
    # cond_ops (issue 21): a condition on the function's own result collection
    "cond_to_empty": 0.12,
    # donor_ops (issue 21): a difference copied from the most similar code of the file (SimFix)
    "donor": 0.18, "donor_statement": 0.12,
}

#: the operator modules' dispatchers: ``f(cx, statement)`` and ``f(cx, expression)`` -> candidates.
_STMT_OPS = (stmt_ops.stmt_mutants, reach_ops.stmt_mutants, value_ops.stmt_mutants,
             synth_ops.stmt_mutants, insert_ops.stmt_mutants, guard_ops.stmt_mutants, move_ops.stmt_mutants,
             result_ops.stmt_mutants, default_ops.stmt_mutants, pitfall_ops.stmt_mutants, exit_ops.stmt_mutants,
             cond_ops.stmt_mutants, donor_ops.stmt_mutants, restore_ops.stmt_mutants,
             prelude_ops.stmt_mutants)
_EXPR_OPS = (mutation_ops.expr_mutants, reach_ops.expr_mutants, value_ops.expr_mutants,
             synth_ops.expr_mutants, kin_ops.expr_mutants, guard_ops.expr_mutants,
             forward_ops.expr_mutants, pitfall_ops.expr_mutants, donor_ops.expr_mutants, member_ops.expr_mutants)
#: operators whose edits always parse: their parse check is skipped.
_SAFE = reach_ops.SAFE | value_ops.SAFE | synth_ops.SAFE

#: operators that raised in this process ("module.function at path:line: error"), at most 20:
#: :mod:`harness.work.fix` names them in the run's messages (:func:`take_crashes`).
CRASHES: list[str] = []

#: at most this many mutants per asked line (highest prior first).
MAX_PER_LINE = 60
_BATCH = 64  # candidates validated per parse


def mutants_at(path: str, source: str, lines: Iterable[int], failing: Mapping[str, object] | None = None,
               read: Callable[[str], str | None] | None = None) -> list[Mutant]:
    """All mutants at the given lines of one file.

    Args:
        path: repo-relative POSIX path, copied into each :class:`Mutant`.
        source: the file's full text.
        lines: 1-based suspicious lines, most suspicious first; order is kept.
        failing: the failing tests' results by test id (``Task.failing``): their messages and
            frames feed :mod:`.wrap_ops`; None for none.
        read: another file's text by repo-relative path (None when it cannot be read), for
            the operators that look at the modules this one imports (:mod:`.forward_ops`);
            None: this file only.

    Returns:
        Mutants whose mutated expression starts on one of ``lines``, or whose
        statement covers it (a compound statement only by its header). Per
        line, highest prior first, at most :data:`MAX_PER_LINE`; deduplicated
        by ``new_source`` across lines. Every ``new_source`` parses and differs
        from ``source``. When ``source`` does not parse, the syntax repairs of
        :func:`harness.generators.syntax_fix.syntax_repairs` instead.
    """
    tree = parsed(source)  # one tree per text, shared: the file-wide facts go with it (facts.shared)
    if tree is None:
        try:
            ast.parse(source)
        except SyntaxError:  # no tree to mutate: token edits at the error instead
            return syntax_repairs(path, source, lines)
        except ValueError:
            pass
        return []
    wanted = list(dict.fromkeys(int(line_no) for line_no in lines))
    cx = Index(source, tree, wanted, path, read)
    failures = wrap_ops.failures_for(path, failing)
    out: list[Mutant] = []
    # edits -> (lo, hi, middle, key) when valid, None when not: each parsed once per call.
    # Every line keeps its first MAX_PER_LINE valid mutants whatever the other lines
    # asked in the same call (so a lazy search asking lines in chunks gets the order of
    # one asking line by line); a mutant an earlier line already offered is not repeated.
    known: dict[tuple, tuple | None] = {}
    seen_src: set[tuple] = set()
    for line in wanted:
        todo = _line_candidates(cx, line, failures)
        kept, line_keys = 0, set()
        for i in range(0, len(todo), _BATCH):
            if kept >= MAX_PER_LINE:
                break
            batch = todo[i : i + _BATCH]
            # an operator in _SAFE always yields code that parses: no parse needed
            need = [item for item in batch if item[1] not in known and item[0].op not in _SAFE]
            checked = dict(zip((end for _, end in need), valid_many(cx, need)))
            for cand, edits in batch:
                if kept >= MAX_PER_LINE:
                    break
                if edits not in known:
                    ok = checked[edits] if edits in checked else any(cx.text[start:end] != new for start, end, new in edits)
                    known[edits] = _spliced(cx, edits) if ok else None
                got = known[edits]
                if got is None or got[3] in line_keys:
                    continue
                line_keys.add(got[3])
                kept += 1
                if got[3] in seen_src:
                    continue
                seen_src.add(got[3])
                out.append(Mutant(cand.op, path, cand.node.lineno, cand.desc, source, *got))
    return out


def _line_candidates(cx: Index, line: int, failures: tuple = ()) -> list[tuple[Cand, tuple]]:
    """Every operator's candidates at ``line`` as ``(cand, sorted edits)``, highest prior
    first, each edit set once (not yet checked to parse)."""
    cands: list[Cand] = []
    for st in cx.stmts_by_line.get(line, ()):
        for op in _STMT_OPS:
            cands.extend(_guarded(op, cx, line, st))
    for node in sorted(cx.exprs_by_line.get(line, ()), key=_pos_key):
        for expr_op in _EXPR_OPS:
            cands.extend(_guarded(expr_op, cx, line, node))
    cands.extend(_guarded(wrap_ops.line_mutants, cx, line, line, failures))
    cands.sort(key=lambda cand: -OPERATOR_PRIORS[cand.op])
    todo, line_edits = [], set()
    for cand in cands:
        edits = tuple(sorted(cand.edits))
        if edits not in line_edits:
            line_edits.add(edits)
            todo.append((cand, edits))
    return todo


def _guarded(op: Callable[..., list[Cand]], cx: Index, line: int, *args: object) -> list[Cand]:
    """``op(cx, *args)``; when it raises (a bug of ours, on code nobody tried it on), none of
    its candidates and the crash kept in :data:`CRASHES`, so one operator does not end the
    user's run. With ``LOOPWRIGHT_STRICT_OPERATORS=1`` (the test suite sets it) it raises."""
    try:
        return op(cx, *args)
    except Exception as exc:  # noqa: BLE001 - reported in the run's summary, see CRASHES
        if os.environ.get("LOOPWRIGHT_STRICT_OPERATORS") == "1":
            raise
        if len(CRASHES) < 20:
            CRASHES.append(f"{op.__module__.rsplit('.', 1)[-1]}.{op.__name__} at {cx.path or '?'}:{line}: "
                           f"{type(exc).__name__}: {exc}")
        return []


def take_crashes() -> list[str]:
    """One message per operator that raised since the last call (:data:`CRASHES`, then
    emptied): its candidates there were skipped, the run went on."""
    got = [f"internal error, skipped: the repair operator {crash}; its candidates there were not tried "
           "(please report it)" for crash in dict.fromkeys(CRASHES)]
    CRASHES.clear()
    return got


def _spliced(cx: Index, edits: tuple) -> tuple[int, int, str, tuple]:
    """(start, end, replacement, key) of the span ``edits`` change."""
    lo, hi = edits[0][0], max(end for _, end, _ in edits)
    mid = splice(cx, edits, lo, hi)
    return lo, hi, mid, canonical(cx, lo, hi, mid)


def _pos_key(node: ast.expr) -> tuple[int, int, int, int]:
    return (node.lineno, node.col_offset, -last_line(node), -(node.end_col_offset or 0))

