"""The AST mutation operators of the offline repairer (harness.generators.mutations):
the fixes of common one-line bugs. Splicing and the contract: tests/test_mutation_splicing.py."""

from __future__ import annotations

from harness.generators.mutations import OPERATOR_PRIORS, mutants_at
from tests.mutant_checks import CLAMP, changed_lines, check_all, check_fix, find, src


def test_comparison_boundary():
    m = check_fix(CLAMP, 4, "x < 0", "x <= 0", "compare_swap")
    assert "`<` -> `<=`" in m.description
    # all comments survive untouched
    for comment in ("# clamp negative", "# boundary: zero", "# the bug: should be <="):
        assert comment in m.new_source


def test_header_only_for_compound_statements():
    mutants = mutants_at("m.py", CLAMP, [4])
    check_all(CLAMP, mutants)
    for m in mutants:  # the body `return 0` (line 5) is not mutated for line 4
        assert 5 not in changed_lines(CLAMP, m.new_source) or m.operator == "delete_statement"
    assert not any(m.new_source == CLAMP.replace("return 0", "return 1") for m in mutants)


def test_range_upper_bound():
    source = src('''
        def total_upto(n):
            s = 0
            for i in range(n):
                s += i
            return s
    ''')
    check_fix(source, 3, "range(n)", "range(n + 1)", "range_arg_off_by_one")
    check_fix(source, 3, "range(n)", "range(1, n)", "range_arg_off_by_one")


def test_index_off_by_one():
    source = src('''
        def previous(xs, i):
            """The element before position i."""
            return xs[i]
    ''')
    check_fix(source, 3, "xs[i]", "xs[i - 1]", "index_off_by_one")
    folded = src('''
        def last(xs):
            return xs[len(xs) - 0 - 1 + 1]
    ''')
    # (const_off_by_one, of higher prior, offers the same folded edit: `+ 1` -> nothing)
    check_fix(folded, 2, "len(xs) - 0 - 1 + 1", "len(xs) - 0 - 1")


def test_slice_bounds():
    source = src('''
        def middle(xs, lo, hi):
            return xs[lo:hi]
    ''')
    check_fix(source, 2, "xs[lo:hi]", "xs[lo - 1:hi]", "slice_bound_off_by_one")
    check_fix(source, 2, "xs[lo:hi]", "xs[:hi]", "slice_bound_off_by_one")
    check_fix(source, 2, "xs[lo:hi]", "xs[lo:hi + 1]", "slice_bound_off_by_one")
    check_fix(source, 2, "xs[lo:hi]", "xs[lo:]", "slice_bound_off_by_one")
    # an integer bound is a constant: the higher-prior operator names the same edit
    check_fix(src("def f(xs):\n    return xs[1:]\n"), 2, "xs[1:]", "xs[0:]", "const_off_by_one")
    tail = src('''
        def tail(xs):
            return xs[:]
    ''')
    check_fix(tail, 2, "xs[:]", "xs[1:]", "slice_bound_off_by_one")
    check_fix(tail, 2, "xs[:]", "xs[:-1]", "slice_bound_off_by_one")


def test_constant_off_by_one():
    source = src('''
        def page_count(items, per_page):
            return (len(items) + per_page) // per_page
    ''')
    # no constant here: the fix is an operator change
    check_fix(source, 2, "len(items) + per_page", "len(items) - per_page", "binop_swap")
    consts = src('''
        def first(xs):
            return xs[1]
    ''')
    check_fix(consts, 2, "xs[1]", "xs[0]", "const_off_by_one")
    check_fix(consts, 2, "xs[1]", "xs[2]")


def test_missing_none_guard():
    source = src('''
        def length(items):
            return len(items)
    ''')
    mutants = mutants_at("m.py", source, [2])
    check_all(source, mutants)
    for guard in ("if items is None: return None", "if not items: return 0",
                  "if items is None: items = []"):
        expected = source.replace("    return", f"    {guard}\n    return")
        m = find(mutants, expected)
        assert m.operator == "guard_insert"
        assert changed_lines(source, m.new_source) == {2}  # inserted before line 2


def test_min_max_and_any_all():
    source = src('''
        def largest(xs, flags):
            ok = any(flags)
            return min(xs) if ok else None
    ''')
    check_fix(source, 3, "min(xs)", "max(xs)", "min_max")
    check_fix(source, 2, "any(flags)", "all(flags)", "any_all")


def test_wrong_variable():
    source = src('''
        def area(width, height):
            return width * width
    ''')
    m = check_fix(source, 2, "width * width", "width * height", "replace_name")
    assert "`width` -> `height`" in m.description


def test_swapped_operands():
    source = src('''
        def elapsed(start, end):
            return start - end
    ''')
    check_fix(source, 2, "start - end", "end - start", "swap_operands")
    contains = src('''
        def has(item, items):
            return items in item
    ''')
    check_fix(contains, 2, "items in item", "item in items", "swap_operands")


def test_and_or_and_dropped_operand():
    source = src('''
        def out_of_range(x, lo, hi):
            if x < lo and x > hi:
                return True
            return False
    ''')
    check_fix(source, 2, "x < lo and x > hi", "x < lo or x > hi", "boolop_swap")
    check_fix(source, 2, "x < lo and x > hi", "x < lo", "drop_operand")
    check_fix(source, 2, "x < lo and x > hi", "x > hi", "drop_operand")


def test_negate_condition():
    source = src('''
        def label(ok, n):
            if not ok:
                return "bad"
            while n > 0:
                n -= 1
            return "good" if n else "zero"
    ''')
    check_fix(source, 2, "not ok", "ok", "negate_condition")
    check_fix(source, 4, "n > 0", "n <= 0", "negate_condition")
    check_fix(source, 6, '"good" if n else', '"good" if not n else', "negate_condition")


def test_add_conjunct_and_disjunct():
    source = src('''
        def positive(node):
            if node.value > 0:
                return True
            return False
    ''')
    check_fix(source, 2, "node.value > 0", "node is not None and node.value > 0", "add_conjunct")
    check_fix(source, 2, "node.value > 0", "node is None or node.value > 0", "add_disjunct")


def test_attribute_names_in_conjuncts():
    source = src('''
        class Box:
            def ready(self, n):
                if n > 0:
                    return self.cache[n]
                return None
    ''')
    check_fix(source, 3, "n > 0", "self.cache and n > 0", "add_conjunct")


def test_method_swap_and_call_args():
    source = src('''
        def norm(name, sep, parts):
            parts.append(name.lower())
            return sep.join(parts, sep)
    ''')
    check_fix(source, 2, "name.lower()", "name.upper()", "method_swap")
    check_fix(source, 2, "parts.append(", "parts.extend(", "method_swap")
    check_fix(source, 3, "join(parts, sep)", "join(sep, parts)", "swap_call_args")


def test_return_values():
    source = src('''
        def is_empty(xs):
            return len(xs) > 0
    ''')
    check_fix(source, 2, "len(xs) > 0", "not len(xs) > 0", "return_value")
    check_fix(source, 2, "len(xs) > 0", "True", "return_value")
    data = src('''
        def collect(xs):
            out = [x for x in xs]
            return out
    ''')
    check_fix(data, 3, "return out", "return []", "return_value")
    check_fix(data, 3, "return out", "return None", "return_value")


def test_augmented_assignment_and_bool_constants():
    source = src('''
        def run(xs):
            total = 0
            done = False
            for x in xs:
                total -= x
            return total, done
    ''')
    check_fix(source, 5, "total -= x", "total += x", "augassign_swap")
    check_fix(source, 5, "total -= x", "total = x", "assign_swap")
    check_fix(source, 3, "done = False", "done = True", "bool_const_swap")
    check_fix(source, 2, "total = 0", "total = 1", "const_off_by_one")


def test_delete_and_insert_nearby_statement():
    source = src('''
        def step(state):
            state.count = 0
            state.items.clear()
            state.count += 1
            return state
    ''')
    mutants = mutants_at("m.py", source, [3])
    check_all(source, mutants)
    deleted = source.replace("    state.items.clear()\n", "")
    assert find(mutants, deleted).operator == "delete_statement"
    after = source.replace("    state.items.clear()\n",
                           "    state.items.clear()\n    state.count += 1\n")
    before = source.replace("    state.items.clear()\n",
                            "    state.count = 0\n    state.items.clear()\n")
    for expected in (after, before):
        m = find(mutants, expected)
        assert m.operator == "insert_nearby_statement" and m.line == 3
    only = src('''
        def f(x):
            if x:
                x.close()
            return x
    ''')
    check_fix(only, 3, "x.close()", "pass", "delete_statement")


def test_priors_cover_every_operator():
    ops = {
        "binop_swap", "compare_swap", "boolop_swap", "bitop_swap", "unaryop_drop",
        "const_off_by_one", "index_off_by_one", "slice_bound_off_by_one",
        "range_arg_off_by_one", "negate_condition", "drop_operand", "add_conjunct",
        "add_disjunct", "swap_call_args", "swap_operands", "replace_name", "any_all", "min_max",
        "return_value", "guard_insert", "delete_statement", "insert_nearby_statement",
        "is_eq_swap", "bool_const_swap", "augassign_swap", "assign_swap", "method_swap",
        "call_drop", "negate_value",
        # reach_ops (tests/test_reach_ops.py)
        "call_arity", "const_cond_to_name", "drop_term", "attr_swap", "unwrap_call", "wrap_call",
        "name_to_slice", "swap_commutative", "add_term", "copy_renamed",
        # value_ops (tests/test_value_ops.py)
        "add_default_arg", "wrap_bool", "regex_quantifier", "const_to_attr", "name_to_self", "encoding_swap",
        "unwrap_comprehension",  # tests/test_unwrap_comprehension.py
        # synth_ops and insert_ops (tests/test_synth_ops.py)
        "name_arith", "slice_by_name", "sibling_arg", "swap_index", "raise_power", "default_arg_value",
        "restore_method", "dict_key", "assign_max_min", "return_compare", "return_nested_empty",
        "insert_append", "carry_forward", "restore_statement", "branch_statement", "return_call",
        # wrap_ops (tests/test_wrap_ops.py)
        "wrap_try", "convert_param", "early_return", "normalize_param",
        # guard_ops (tests/test_guard_ops.py)
        "return_guard", "same_conversion",
        "forward_param", "sibling_keyword",  # forward_ops (tests/test_forward_ops.py)
        "move_out", "move_in", "swap_statements",  # move_ops (tests/test_move_ops.py)
        "keep_result",  # result_ops (tests/test_result_ops.py)
        "mutable_default",  # default_ops (tests/test_default_ops.py)
        "f_prefix", "late_binding", "strip_affix", "sorted_copy", "copy_iterated", "split_concat", "one_tuple",
        "setdefault_lost", "type_compare", "find_truthy", "not_implemented", "hash_eq", "len_bool",
        "insert_break", "break_continue",  # exit_ops (tests/test_exit_ops.py)
        "cond_to_empty",  # cond_ops (tests/test_cond_ops.py)
        "donor", "donor_statement",  # donor_ops (tests/test_donor_ops.py)
        "restore_init",  # restore_ops (tests/test_restore_ops.py)
        "sink_prelude",  # prelude_ops (tests/test_prelude_ops.py)
        "normalize_members",  # member_ops (tests/test_member_ops.py)
    }
    assert ops == set(OPERATOR_PRIORS)
    assert all(0 < p <= 1 for p in OPERATOR_PRIORS.values())
    assert OPERATOR_PRIORS["compare_swap"] > OPERATOR_PRIORS["replace_name"]
    assert OPERATOR_PRIORS["const_off_by_one"] > OPERATOR_PRIORS["insert_nearby_statement"]


def test_bitwise_and_unary():
    source = src('''
        def flags(a, b):
            return -(a & b) << 1
    ''')
    check_fix(source, 2, "a & b", "a | b", "bitop_swap")
    check_fix(source, 2, "<< 1", ">> 1", "bitop_swap")
    check_fix(source, 2, "-(a & b)", "(a & b)", "unaryop_drop")


def test_negate_a_flag_value():
    source = src('''
        def expand(disable_parse, count, total):
            if total:
                return [disable_parse] * count
            return [total] * count
    ''')
    check_fix(source, 3, "[disable_parse]", "[not disable_parse]", "negate_value")
    # `total` is used as a truth value in the function: a flag too; `count` is not
    check_fix(source, 4, "[total]", "[not total]", "negate_value")
    line3 = [m for m in mutants_at("pkg/mod.py", source, [3]) if m.operator == "negate_value"]
    assert all("not count" not in m.new_source for m in line3)
    # never `not not x`, and a test position is left to negate_condition
    cond = [m for m in mutants_at("pkg/mod.py", source, [2]) if m.operator == "negate_value"]
    assert cond == []


def test_a_delimiter_checked_at_one_end_gets_its_other_end():
    source = ("def field(part):\n    if part[0] == '{':\n        return part[1:-1]\n"
              "    if part.startswith('(') and part:\n        return part\n    return None\n")
    got = {m.new_source.splitlines()[m.line - 1].strip() for m in mutants_at("m.py", source, [2, 4])
           if m.operator == "add_conjunct"}
    assert "if part[0] == '{' and part[-1] == '}':" in got
    assert "if part.startswith('(') and part and part.endswith(')'):" in got
    # a check of both ends already, or of a word, has no mirror to add
    both = "def f(s):\n    if s[0] == '[' and s[-1] == ']':\n        return s\n    if s[0] == 'a':\n        return 1\n"
    assert not [m for m in mutants_at("m.py", both, [2, 4]) if m.operator == "add_conjunct" and (
        "s[-1] == 'a'" in m.new_source or m.new_source.count("s[-1] == ']'") > 1)]


def test_fix_rejects_an_unterminated_brace(make_repo):
    from tests.conftest import fix_offline
    summary, _root, _ = fix_offline(make_repo, {
        "fmt.py": ("def fields(text):\n    out = []\n    for part in text.split():\n"
                   "        if part[0] == '{':\n            out.append(part[1:-1])\n    return out\n"),
        "test_fmt.py": ("from fmt import fields\n\n\ndef test_fields():\n    assert fields('a {b} {c}') == ['b', 'c']\n\n\n"
                        "def test_plain():\n    assert fields('x y') == []\n\n\n"
                        "def test_unterminated_brace_is_not_a_field():\n    assert fields('{who.txt {b}') == ['b']\n"),
    })
    assert summary["status"] == "fixed", summary
    assert "part[-1] == '}'" in (summary.get("patch") or summary.get("diff") or ""), summary
