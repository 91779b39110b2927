"""Choosing among plausible patches: prefer the patch a developer would write.

A *plausible* patch makes every failing test pass and breaks none; several often do
(an operator swap, a deleted statement, an inserted early return). Test suites cannot
tell them apart, so the choice follows what program-repair studies found correct fixes
look like: small edits that keep the program's structure. Overfitting patches are
disproportionately deletions and inserted returns or guards (Qi et al., "An Analysis
of Patch Plausibility and Correctness for Generate-and-Validate Patch Generation
Systems", ISSTA 2015; Smith et al., FSE 2015), while correct one-line fixes are mostly
operator, constant and name changes (ManySStuBs4J, Karampatsis & Sutton, MSR 2020).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.patch import Patch

#: arithmetic that does nothing (``x + 0``, ``x * 1``): correct code rarely spells it out.
_IDENTITY = re.compile(r"(?:[-+] ?0|\*\*? ?1|// ?1)(?![\w.])|(?<![\w.)\]])(?:0 ?\+|1 ?\*)(?!\*)")

#: operator -> naturalness class: 0 changes an operator or constant in place, 1 swaps a
#: name, argument or attribute, 2 adds or removes an expression part, 3 inserts a guard
#: or changes what is returned, 4 deletes or inserts a statement. Unknown (a model's
#: patch): 2.
NATURALNESS: dict[str, int] = {
    **dict.fromkeys(("compare_swap", "binop_swap", "bitop_swap", "boolop_swap", "augassign_swap",
                     "const_off_by_one", "range_arg_off_by_one", "index_off_by_one",
                     "slice_bound_off_by_one", "is_eq_swap", "bool_const_swap", "min_max",
                     "any_all", "method_swap", "assign_swap", "regex_quantifier", "encoding_swap",
                     "default_arg_value"), 0),
    **dict.fromkeys(("replace_name", "swap_operands", "swap_commutative", "swap_call_args",
                     "attr_swap", "const_cond_to_name", "const_to_attr", "name_to_self", "swap_index",
                     "dict_key"), 1),
    **dict.fromkeys(("negate_condition", "negate_value", "unaryop_drop", "drop_operand",
                     "add_conjunct", "add_disjunct", "call_drop", "unwrap_call", "wrap_call",
                     "drop_term", "add_term", "name_to_slice", "call_arity", "wrap_bool",
                     "add_default_arg", "unwrap_comprehension", "name_arith", "slice_by_name",
                     "sibling_arg", "raise_power", "restore_method", "assign_max_min", "donor"), 2),
    **dict.fromkeys(("guard_insert", "return_value", "return_call", "return_compare",
                     "return_nested_empty"), 3),
    **dict.fromkeys(("delete_statement", "insert_nearby_statement", "copy_renamed",
                     "restore_statement", "branch_statement", "insert_append", "carry_forward", "donor_statement"), 4),
    # message_ops (issue 21): edits a failing test's message points at
    **dict.fromkeys(("literal_from_diff",), 0), **dict.fromkeys(("rename_to_asked", "except_base"), 1),
    **dict.fromkeys(("positional_only", "except_widen", "except_narrow"), 2),
    **dict.fromkeys(("alias_asked", "except_reraise", "except_drop"), 4),
    **dict.fromkeys(("import_asked",), 2),  # a package's missing export (message_imports)
    **dict.fromkeys(("add_property", "add_staticmethod"), 3),  # a decorator line (message_members)
    **dict.fromkeys(("rename_param",), 1), **dict.fromkeys(("return_self",), 3),
    **dict.fromkeys(("import_missing", "declare_name"), 4),  # a statement inserted (message_scope)
    **dict.fromkeys(("patch_lookup",), 4),  # an import moved into functions (message_patch)
    # angelic_ops: a synthesized conjunct or disjunct (an expression part added), a guard inserted
    **dict.fromkeys(("angelic_and", "angelic_or"), 2), **dict.fromkeys(("angelic_guard", "angelic_exit"), 3),
    **dict.fromkeys(("bytes_literal",), 0), **dict.fromkeys(("bytes_convert",), 2),  # message_bytes
    **dict.fromkeys(("template_from_test",), 2),  # a template's fields as the failing test builds them
    # attr_guard: a missing attribute read behind hasattr (a conjunct, a guard) or getattr's default
    **dict.fromkeys(("hasattr_conjunct",), 2), **dict.fromkeys(("hasattr_guard",), 3),
    **dict.fromkeys(("getattr_default",), 1),
    **dict.fromkeys(("reduce_global",), 3),  # pickle_ops: a method added to a singleton's class
    **dict.fromkeys(("restore_init",), 3),  # a statement inserted at a __setstate__'s end (restore_ops)
    **dict.fromkeys(("normalize_members",), 3),  # a stored collection rebuilt normalized (member_ops)
    **dict.fromkeys(("sink_prelude",), 4),  # statements copied from another path into the same parser (prelude_ops)
    # wrap_ops (issue 21): statements the failure asks for
    **dict.fromkeys(("convert_param", "early_return", "normalize_param"), 3), **dict.fromkeys(("wrap_try",), 4),
    # data edits (issue 21): table entries and regexes from the failing tests' literals
    **dict.fromkeys(("table_value", "regex_optional_char"), 0), **dict.fromkeys(("regex_class", "regex_alternative"), 1),
    **dict.fromkeys(("regex_optional",), 2), **dict.fromkeys(("table_entry", "name_entry", "row_entry"), 3),
    # regex_more: a range end moved, a piece of the pattern made optional or a case flag added
    **dict.fromkeys(("regex_range",), 0), **dict.fromkeys(("regex_optional_piece", "regex_ignorecase"), 1),
    **dict.fromkeys(("regex_narrow",), 1),  # a boundary, an anchor or a lazy quantifier (regex_narrow)
    # type_ops (issue 21): a raised class retyped, an isinstance check widened by a sibling class
    **dict.fromkeys(("raise_expected",), 1), **dict.fromkeys(("isinstance_sibling",), 2),
    **dict.fromkeys(("type_guard",), 3),  # a guard raising the expected class is inserted (type_guard)
    # guard_ops (issue 21): a conversion the name gets elsewhere adds a call around it; a
    # return guarded by its own value inserts a guard
    **dict.fromkeys(("same_conversion",), 2), **dict.fromkeys(("return_guard",), 3),
    # case_ops (issue 21): a check repeated for a member of its set the failing test names
    **dict.fromkeys(("case_disjunct", "case_conjunct"), 2),
    **dict.fromkeys(("nan_identity",), 0),  # an `==` the failing tests' NaN breaks made `is` (nan_ops)
    # forward_ops (issue 21): a parameter of the caller passed on to a callee (an added argument)
    **dict.fromkeys(("forward_param", "sibling_keyword"), 2),
    # move_ops (issue 21): a statement moved one step (nothing written anew, but a statement moves)
    **dict.fromkeys(("move_out", "move_in", "swap_statements"), 4),
    # result_ops (issue 21): a call's value assigned (an expression part added to a statement)
    **dict.fromkeys(("keep_result",), 2),
    # default_ops (issue 21): a default made at each call (a guard inserted)
    **dict.fromkeys(("mutable_default",), 3),
    # pitfall_ops (issue 21): a prefix or method name changed in place; a default or a call added
    **dict.fromkeys(("f_prefix", "strip_affix", "split_concat", "one_tuple", "setdefault_lost"), 0),
    **dict.fromkeys(("type_compare", "find_truthy", "len_bool"), 1),
    **dict.fromkeys(("not_implemented", "hash_eq"), 3),  # what is returned changes (pitfall_ops)
    **dict.fromkeys(("late_binding", "sorted_copy", "copy_iterated"), 2),
    # exit_ops (issue 21): a jump statement swapped in place, or a `break` inserted
    **dict.fromkeys(("break_continue",), 0), **dict.fromkeys(("insert_break",), 4),
    **dict.fromkeys(("cond_to_empty",), 1),  # a condition replaced by a collection's emptiness (cond_ops)
}


def naturalness(patch: Patch) -> tuple[int, float, int, int]:
    """Sort key of a plausible patch, lower is more natural:
    (edit sites, naturalness class of its operator, changed lines, changed characters).
    A patch that writes identity arithmetic (``n - 0``) counts two and a half classes worse:
    behind every edit of the class it would reach, ahead of the next class."""
    meta = patch.meta or {}
    sites = int(meta.get("sites", 1))
    cls = NATURALNESS.get(str(meta.get("operator", "")), 2)
    lines = [ln for ln in patch.diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    added = sum(len(_IDENTITY.findall(ln)) for ln in lines if ln[0] == "+")
    if added > sum(len(_IDENTITY.findall(ln)) for ln in lines if ln[0] == "-"):
        cls += 2.5
    chars = sum(len(ln) - 1 for ln in lines)
    return sites, cls, patch.size, chars


def choose(plausible: list) -> object:
    """The patch to accept among ``plausible`` outcomes (objects with ``.patch``, and
    optionally ``.unprotected`` and ``.protection`` from :mod:`harness.core.evidence`):
    not suspect before suspect (:mod:`harness.core.overfit`: no sign of fooling the tests), then
    protected before unprotected (some passing test executes the changed lines; a line a
    patch adds at module level, such as an alias the test imports, has no baseline test
    executing it: a sign of fooling the tests weighs more than no evidence either way), then
    the most natural (:func:`naturalness` without its character count), then the fewest
    baseline behaviours touched, then the earliest (the generator's best-ranked: its
    suspiciousness and operator priors know more than a character count, e.g. they put
    ``age > 18`` -> ``age >= 18`` before the equivalent ``age > 17``). Raises ValueError
    when empty."""
    if not plausible:
        raise ValueError("no plausible patch to choose from")

    def key(ip: tuple) -> tuple:
        i, o = ip
        prot = getattr(o, "protection", None)
        return (bool(getattr(o, "suspect", "")), bool(getattr(o, "unprotected", False)), naturalness(o.patch)[:3],
                len(prot.tests) if prot is not None else 0, i)

    return min(enumerate(plausible), key=key)[1]


@dataclass(frozen=True)
class Window:
    """How long a batch keeps validating candidates after its first plausible patch, to
    compare it with the next ones (:meth:`harness.core.validate.Validator.first_accepted`).
    Candidates already started (in flight, or validated ahead in a slot that was free) are
    always weighed; these limits decide whether more are started.

    Attributes:
        candidates: the candidates after it that are weighed: those already started count,
            and more are started until there are this many (default 4).
        unprotected_per_slot: when it is unprotected (no passing test executes its changed
            lines), at least this many per slot are started, looking for a protected
            one (default 2).
        fraction: none is started once the window has lasted this fraction of the seconds
            the batch took to find the first plausible patch, so comparing costs at most
            about half again the search (default 0.5; None: no time limit, the candidate
            limits alone, as the validator's own tests use it for determinism).
        suspect_fraction: the same limit when the first plausible patch is suspect
            (:mod:`harness.core.overfit`): a patch with a sign of fooling the tests is worth
            up to this many times the search to find another (default 2.0; the candidate
            limits still hold; ignored when ``fraction`` is None).
    """

    candidates: int = 4
    unprotected_per_slot: int = 2
    fraction: float | None = 0.5
    suspect_fraction: float = 2.0

    def budget(self, unprotected: bool, slots: int) -> int:
        """Candidates after the first plausible patch to weigh (those already started included)."""
        return max(self.candidates, self.unprotected_per_slot * slots if unprotected else 0)

    def closed(self, searched: float, elapsed: float, suspect: bool = False) -> bool:
        """Whether no more candidates start: ``elapsed`` seconds of window after
        ``searched`` seconds of search (both wall seconds); ``suspect``: the first plausible
        patch is suspect (:attr:`suspect_fraction` applies)."""
        if self.fraction is None:
            return False
        return elapsed >= max(self.fraction, self.suspect_fraction if suspect else 0.0) * searched
