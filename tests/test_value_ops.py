"""Each operator of ``harness.generators.value_ops`` offers the developer's fix of one real
regression of the release-pair suite (``evals/suites/release-pairs.yaml``).

The sources are short excerpts of the released libraries (N's code at the lines the
developer changed in N+1), cut down to what the operator reads.
"""

from __future__ import annotations

from harness.generators.mutations import mutants_at
from tests.mutant_checks import changed_lines, check_all, check_fix, find, src


def test_predicate_returns_a_bool_not_the_match():
    # pathspec 0.12.0 -> 0.12.1, pathspec/pathspec.py: match_file leaked the pattern's value
    source = src('''
        class PathSpec:
            def match_file(self, file, separators=None):
                norm_file = normalize_file(file, separators)
                include, _index = self._match_file(enumerate(self.patterns), norm_file)
                return include
    ''')
    check_fix(source, 5, "return include", "return bool(include)", "wrap_bool")


def test_invalidating_a_missing_key_pops_with_a_default():
    # funcy 1.14 -> 1.15, funcy/calc.py: invalidate() of a key never cached raised KeyError
    source = src('''
        def cache(timeout, key_func=None):
            def decorator(func):
                cache = {}

                def invalidate(*args, **kwargs):
                    cache.pop(key_func(*args, **kwargs))
                return invalidate
            return decorator
    ''')
    check_fix(source, 6, "cache.pop(key_func(*args, **kwargs))",
              "cache.pop(key_func(*args, **kwargs), None)", "add_default_arg")


def test_random_wait_starts_at_the_configured_minimum():
    # tenacity 8.5.0 -> 9.0.0, tenacity/wait.py: the jitter ignored `min`
    source = src('''
        class wait_exponential(wait_base):
            def __init__(self, multiplier=1, max=MAX_WAIT, exp_base=2, min=0):
                self.multiplier = multiplier
                self.min = to_seconds(min)
                self.max = to_seconds(max)
                self.exp_base = exp_base


        class wait_random_exponential(wait_exponential):
            def __call__(self, retry_state):
                high = super().__call__(retry_state=retry_state)
                return random.uniform(0, high)
    ''')
    m = check_fix(source, 12, "uniform(0, high)", "uniform(self.min, high)", "const_to_attr")
    # the attribute set from the parameter whose default is 0 comes first
    firsts = [x for x in mutants_at("pkg/mod.py", source, [12]) if x.operator == "const_to_attr"]
    assert firsts[0].new_source == m.new_source


def test_wrapper_points_back_at_the_retrying_object():
    # tenacity 8.4.2 -> 8.5.0, tenacity/__init__.py: `wrapped_f.retry` was the function itself
    source = src('''
        class BaseRetrying:
            def wraps(self, f):
                def wrapped_f(*args, **kw):
                    return self.copy()(f, *args, **kw)

                wrapped_f.retry = wrapped_f
                return wrapped_f
    ''')
    check_fix(source, 6, "wrapped_f.retry = wrapped_f", "wrapped_f.retry = self", "name_to_self")


def test_time_keeps_its_timezone():
    # parse 1.22.2 -> 1.22.3, parse/__init__.py: a flexible time lost its tzinfo
    source = src('''
        def convert(dt, is_date, is_time):
            if is_date:
                return dt.date()
            elif is_time:
                return dt.time()
            return dt
    ''')
    check_fix(source, 5, "dt.time()", "dt.timetz()", "method_swap")


def test_fortran_floats_need_no_leading_digit_in_both_patterns():
    # parse 1.13.1 -> 1.14.0, parse.py: `\d+\.\d+` -> `\d*\.\d+` for 'f' and for 'F'
    source = src(r"""
        def handle(type, conv):
            if type == 'f':
                s = r'\d+\.\d+'
                conv['f'] = float
            elif type == 'F':
                s = r'\d+\.\d+'
                conv['F'] = Decimal
            return s
    """)
    expected = source.replace(r"r'\d+\.\d+'", r"r'\d*\.\d+'")
    mutants = mutants_at("pkg/mod.py", source, [3])
    check_all(source, mutants)
    m = find(mutants, expected)
    assert m.operator == "regex_quantifier" and changed_lines(source, m.new_source) == {3, 6}
    assert "identical literals" in m.description
    # the first site alone is offered too, and a fixed-width field may widen: {6} -> {1,6}
    single = source.replace(r"r'\d+\.\d+'", r"r'\d*\.\d+'", 1)
    assert find(mutants, single).operator == "regex_quantifier"
    width = src('''
        FORMATS = {"%f": "[0-9]{6}"}
    ''')
    check_fix(width, 1, '"[0-9]{6}"', '"[0-9]{1,6}"', "regex_quantifier")


def test_bytes_patterns_decode_with_latin1():
    # pathspec 0.5.7 -> 0.5.8, pathspec/patterns/gitwildmatch.py: CP1252 cannot decode every byte
    source = src('''
        from ..pattern import RegexPattern

        _BYTES_ENCODING = 'CP1252'
    ''')
    check_fix(source, 3, "'CP1252'", "'latin1'", "encoding_swap")
    # not the same codec under another name, not a string that is no codec
    names = [m.new_source.splitlines()[2] for m in mutants_at("pkg/mod.py", source, [3])
             if m.operator == "encoding_swap"]
    assert "_BYTES_ENCODING = 'cp1252'" not in names and len(names) == 4
    plain = src('''
        MODE = 'rb'
    ''')
    assert not [m for m in mutants_at("pkg/mod.py", plain, [1]) if m.operator == "encoding_swap"]


def test_value_operators_stay_quiet_where_they_do_not_apply():
    source = src('''
        def f(xs, n):
            total = 0
            for x in xs:
                total += x * 2
            return total > n

        class Conv:
            def add(self, conv):
                conv['f'] = lambda s, m: float(s)

            def __eq__(self, other):
                return NotImplemented
    ''')
    mutants = mutants_at("pkg/mod.py", source, [2, 3, 4, 5, 9, 12])
    check_all(source, mutants)
    ops = {m.operator for m in mutants}
    # no method (a lambda's parameter is its own), no regex, no lookup, an evident bool or a
    # builtin returned
    assert not ops & {"const_to_attr", "name_to_self", "regex_quantifier", "add_default_arg", "wrap_bool",
                      "encoding_swap"}


def test_a_string_with_a_lone_surrogate_is_no_codec_name():
    source = 'import re\n\n_SURROGATE = re.compile("[\\ud800-\\udfff]")\n\n\ndef f(x):\n    return re.compile("\\ud800")\n'
    check_all(source, mutants_at("pkg/mod.py", source, [3, 7]))
