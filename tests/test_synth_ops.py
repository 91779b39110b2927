"""The operators of issue 21 (``harness.generators.synth_ops`` and ``.insert_ops``): each
offers the fix of a bug written for it, at the suspicious line, and every mutant is valid."""

from __future__ import annotations

from harness.generators.mutations import mutants_at
from tests.conftest import fix_offline, snapshot
from tests.mutant_checks import changed_lines, check_all, check_fix, find, src


def _offered(source: str, line: int, expected: str, operator: str) -> None:
    mutants = mutants_at("pkg/mod.py", source, [line])
    check_all(source, mutants)
    m = find(mutants, expected)
    assert m.operator == operator, m
    assert m.line == line


# -- statement insertion --------------------------------------------------------------
def test_append_an_in_scope_value_to_the_list_returned_later():
    source = src('''
        def evens(xs):
            out = []
            for x in xs:
                if x % 2 == 0:
                    pass
            return out
    ''')
    fixed = source.replace("            pass\n", "            pass\n            out.append(x)\n")
    _offered(source, 5, fixed, "insert_append")


def test_carry_the_loop_variable_forward():
    source = src('''
        def rises(xs):
            prev = xs[0]
            n = 0
            for x in xs[1:]:
                if x > prev:
                    n += 1
            return n
    ''')
    fixed = source.replace("            n += 1\n", "            n += 1\n        prev = x\n")
    # inserted after the `if` statement's last line at the loop body's indentation
    mutants = mutants_at("pkg/mod.py", source, [6])
    check_all(source, mutants)
    wanted = source.replace("            n += 1\n", "            n += 1\n            prev = x\n")
    assert find(mutants, wanted).operator == "carry_forward"
    assert fixed != wanted


def test_push_onto_the_stack_in_the_branch_that_lacks_it():
    source = src('''
        def balanced(text):
            stack = []
            for ch in text:
                if ch == "(":
                    depth = len(stack)
                elif ch == "[":
                    stack.append(ch)
                elif not stack:
                    return False
                else:
                    stack.pop()
            return not stack
    ''')
    fixed = source.replace("depth = len(stack)\n", "depth = len(stack)\n            stack.append(ch)\n")
    _offered(source, 5, fixed, "restore_statement")


def test_restore_a_deleted_increment_and_a_reset_call():
    source = src('''
        def count_words(lines):
            count = 0
            for line in lines:
                words = line.split()
            return count
    ''')
    fixed = source.replace("words = line.split()\n", "words = line.split()\n        count += 1\n")
    _offered(source, 4, fixed, "restore_statement")
    source = src('''
        class Reader:
            def rows(self):
                yield from self.buffer
                self.buffer = []

            def close(self):
                self.flush()
                self.reset()
    ''')
    fixed = source.replace("self.buffer = []\n", "self.buffer = []\n        self.reset()\n")
    _offered(source, 4, fixed, "restore_statement")


LRU = src('''
    from collections import OrderedDict


    class LRUCache:
        def __init__(self, capacity):
            self.capacity = capacity
            self.cache = OrderedDict()

        def get(self, key, default=None):
            value = self.cache.get(key)
            if value is not None:
                self.cache.move_to_end(key, last=True)
                return value
            return default

        def set(self, key, value):
            if self.cache.get(key):
                self.cache.move_to_end(key, last=True)
            else:
                self.cache[key] = value
                if len(self.cache) > self.capacity:
                    self.cache.popitem(last=False)
''')
LRU_FIXED = LRU.replace("        if self.cache.get(key):\n", "        if self.cache.get(key):\n            self.cache[key] = value\n")
LRU_TESTS = src('''
    from lru import LRUCache


    def test_set_and_get():
        c = LRUCache(2)
        c.set("a", 1)
        assert c.get("a") == 1


    def test_evicts_the_oldest():
        c = LRUCache(2)
        c.set("a", 1)
        c.set("b", 2)
        c.set("c", 3)
        assert c.get("a") is None and c.get("c") == 3


    def test_missing_key_gives_the_default():
        assert LRUCache(1).get("x", 0) == 0


    def test_set_updates_the_value():
        c = LRUCache(2)
        c.set("a", 1)
        c.set("a", 2)
        assert c.get("a") == 2
''')


def test_a_statement_of_the_other_branch_the_branch_lacks():
    # tinydb 4.8.2's LRUCache.set: the `if` branch moves the key but never stores the new value
    line = LRU.splitlines().index("            self.cache.move_to_end(key, last=True)", 14) + 1
    _offered(LRU, line, LRU_FIXED, "branch_statement")
    mutants = [m for m in mutants_at("pkg/mod.py", LRU, [line]) if m.operator == "branch_statement"]
    # before it (it opens its branch) and after it (it closes it); the `if` inside the other
    # branch is no one-line statement
    assert len(mutants) == 2 and all("self.cache[key] = value" in m.description for m in mutants)


def test_loopwright_fix_stores_the_value_in_the_branch_that_forgot_it(make_repo):
    out, root, before = fix_offline(make_repo, {"lru.py": LRU, "test_lru.py": LRU_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+            self.cache[key] = value\n" in out["patch"], out["patch"]
    assert snapshot(root) == before


def test_missing_return_before_a_call_whose_value_is_dropped():
    source = src('''
        def parse(text, strict):
            if not text:
                return None
            _parse_all(text, strict)
    ''')
    check_fix(source, 4, "_parse_all(", "return _parse_all(", "return_call")


# -- expressions from two in-scope names ------------------------------------------------
def test_name_minus_another_in_scope_number():
    source = src('''
        def window(xs, k, m):
            total = k * 2 + m
            return xs[k]
    ''')
    check_fix(source, 3, "xs[k]", "xs[k - m]", "name_arith")


def test_sequence_sliced_from_an_in_scope_index():
    source = src('''
        def tail_sum(xs, start):
            first = xs[start]
            return sum(xs)
    ''')
    check_fix(source, 3, "sum(xs)", "sum(xs[start:])", "slice_by_name")


def test_argument_gets_the_transformation_its_sibling_has():
    source = src('''
        def same_word(a, b):
            return equal(a.strip().lower(), b)
    ''')
    check_fix(source, 2, "equal(a.strip().lower(), b)", "equal(a.strip().lower(), b.strip().lower())",
              "sibling_arg")


def test_indices_swapped_in_a_multi_index_subscript():
    source = src('''
        def transpose(m):
            n = len(m)
            return [[m[i][j] for i in range(n)] for j in range(n)]
    ''')
    check_fix(source, 3, "m[i][j]", "m[j][i]", "swap_index")


def test_value_raised_to_a_power():
    source = src('''
        def sum_of_squares(xs):
            total = 0
            for x in xs:
                total += x
            return total
    ''')
    check_fix(source, 4, "total += x", "total += x ** 2", "raise_power")


def test_wrong_default_argument_value():
    source = src('''
        def split(text, limit=1):
            return text.split(",", limit)
    ''')
    fixed = source.replace("limit=1", "limit=-1")
    mutants = mutants_at("pkg/mod.py", source, [2])
    check_all(source, mutants)
    m = find(mutants, fixed)
    assert m.operator == "default_arg_value" and changed_lines(source, m.new_source) == {1}


def test_deleted_method_call_in_a_chain_restored_from_a_sibling_use():
    source = src('''
        import base64

        def encode_key(raw):
            return base64.urlsafe_b64encode(raw).rstrip(b"=")

        def encode_token(raw):
            return base64.urlsafe_b64encode(raw)
    ''')
    check_fix(source, 7, "base64.urlsafe_b64encode(raw)", 'base64.urlsafe_b64encode(raw).rstrip(b"=")',
              "restore_method")


def test_wrong_dict_key_replaced_by_another_key_of_the_same_dict():
    source = src('''
        def describe(user):
            name = user["name"]
            return name + " <" + user["mail"] + ">"

        def load(raw):
            user = {"name": raw[0], "email": raw[1]}
            return user
    ''')
    check_fix(source, 3, 'user["mail"]', 'user["email"]', "dict_key")


# -- accumulator and result shapes ------------------------------------------------------
def test_accumulator_keeps_its_best_value():
    source = src('''
        def longest_run(xs):
            best = run = 0
            for x in xs:
                run = run + 1 if x else 0
                best = run
            return best
    ''')
    check_fix(source, 5, "best = run", "best = max(best, run)", "assign_max_min")


def test_constant_return_becomes_a_test_of_the_counter():
    source = src('''
        def balanced(text):
            depth = 0
            for ch in text:
                depth += 1 if ch == "(" else -1 if ch == ")" else 0
            return True
    ''')
    check_fix(source, 5, "return True", "return depth == 0", "return_compare")


def test_empty_result_becomes_the_neutral_element_of_the_recursion():
    source = src('''
        def subsets(xs):
            if not xs:
                return []
            rest = subsets(xs[1:])
            return rest + [[xs[0]] + r for r in rest]
    ''')
    check_fix(source, 3, "return []", "return [[]]", "return_nested_empty")


def test_names_inside_f_strings_are_left_alone():
    # the index does not walk into f-strings: an argument holding one is no sibling to copy
    source = src('''
        def show(log, name, value):
            log(f"{name}={value}", value)
            return log(name.upper(), value)
    ''')
    check_all(source, mutants_at("pkg/mod.py", source, [2, 3]))
    check_fix(source, 3, "log(name.upper(), value)", "log(name.upper(), value.upper())", "sibling_arg")
