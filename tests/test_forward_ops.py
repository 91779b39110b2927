"""``forward_ops.forward_param``: a parameter the caller was given, passed on to a callee of the
same file that declares it; on bugs written for these tests, and end to end on a small
natural-sort library whose public function forgets to pass its ``alg`` option on."""

from __future__ import annotations

import pytest

from harness.generators.mutations import mutants_at
from tests.conftest import fix_offline
from tests.mutant_checks import check_all, check_fix, src

CODE = src('''
    class Parser:
        def __init__(self, text, strict=False):
            self.text = text
            self.strict = strict

        def parse(self, text, strict=False):
            return self._split(text)

        def _split(self, text, strict=False, *, sep=","):
            return text.split(sep)


    def keygen(key=None, alg=0, **options):
        return (key, alg, options)


    def natsorted(seq, key=None, reverse=False, alg=0):
        return sorted(seq, reverse=reverse, key=keygen(key))


    def lenient(text, strict=True):
        return Parser(text, strict=False)


    def configured(key, **options):
        return keygen(key)


    def separated(text, sep=";"):
        return Parser(text)._split(text)
''')


@pytest.mark.parametrize(("line", "old", "new"), [
    (7, "self._split(text)", "self._split(text, strict=strict)"),           # a method of the class
    (18, "keygen(key)", "keygen(key, alg=alg)"),                            # a function of the file
    (22, "Parser(text, strict=False)", "Parser(text, strict=strict)"),      # a constant keyword
    (26, "keygen(key)", "keygen(key, **options)"),                          # **kwargs
    (30, "._split(text)", "._split(text, sep=sep)"),                        # a keyword-only parameter
])
def test_a_parameter_the_callee_declares_is_passed_on(line, old, new):
    check_fix(CODE, line, old, new, "forward_param")
    check_all(CODE, mutants_at("pkg/mod.py", CODE, [line]))


def forwarded(source: str, line: int) -> list[str]:
    return [m.description for m in mutants_at("pkg/mod.py", source, [line]) if m.operator == "forward_param"]


def test_nothing_the_callee_does_not_declare_or_already_gets():
    source = src('''
        def inner(a, b=0):
            return a + b


        def outer(a, b=1, c=2):
            return inner(a, b) + inner(a) * c + len([c]) + inner(a, *[b])
    ''')
    # `inner(a, b)` binds b, `inner` has no `c`, `len` is not of this file, a splat hides what it binds
    assert forwarded(source, 6) == ["line 6: pass `b=b` on"]


def test_a_parameter_the_caller_never_reads_comes_first():
    source = src('''
        def callee(x, lo=0, hi=9):
            return lo <= x <= hi


        def check(x, lo=0, hi=9):
            if hi < 0:
                return False
            return callee(x)
    ''')
    assert forwarded(source, 8) == ["line 8: pass `lo=lo` on", "line 8: pass `hi=hi` on"]


NATSORT = src('''
    """Natural sorting: digit runs compare as numbers (``a2`` before ``a10``)."""
    import re

    IGNORECASE = 1


    def sort_key(text, alg=0):
        """The key of ``text``: its pieces, digit runs as ints; case-folded under IGNORECASE."""
        if alg & IGNORECASE:
            text = text.casefold()
        return [int(piece) if piece.isdigit() else piece for piece in re.split(r"(\\d+)", text)]


    def keygen(key=None, *, alg=0):
        """A key function for ``sorted``: ``key`` first (if any), then :func:`sort_key`."""
        def natural(item):
            return sort_key(key(item) if key else item, alg)
        return natural


    def natsorted(seq, key=None, reverse=False, alg=0):
        """``seq`` sorted naturally."""
        return sorted(seq, key=keygen(key), reverse=reverse)
''')
NATSORT_TESTS = src('''
    from natsort import IGNORECASE, keygen, natsorted


    def test_digit_runs_compare_as_numbers():
        assert natsorted(["a10", "a2", "a1"]) == ["a1", "a2", "a10"]


    def test_case_matters_by_default():
        assert natsorted(["a", "B"]) == ["B", "a"]


    def test_key_and_reverse():
        assert natsorted([("x", "v10"), ("y", "v9")], key=lambda p: p[1], reverse=True) == [("x", "v10"), ("y", "v9")]


    def test_keygen_ignores_case():
        assert sorted(["b", "A1", "a"], key=keygen(alg=IGNORECASE)) == ["a", "A1", "b"]


    def test_natsorted_ignores_case():
        assert natsorted(["b", "A1", "a"], alg=IGNORECASE) == ["a", "A1", "b"]
''')


def test_loopwright_fix_passes_the_option_on(make_repo):
    out, _, _ = fix_offline(make_repo, {"natsort.py": NATSORT, "test_natsort.py": NATSORT_TESTS})
    assert out["status"] == "fixed" and not out.get("suspect"), out
    assert "+    return sorted(seq, key=keygen(key, alg=alg), reverse=reverse)" in out["patch"], out["patch"]


def test_super_is_the_base_class_of_this_file_or_nothing():
    source = src('''
        class Base:
            def __init__(self, name, **options):
                self.name, self.options = name, options


        class Child(Base):
            def __init__(self, name, strict=False, **options):
                super().__init__(name)


        class Listed(list):
            def __init__(self, items, strict=False, **options):
                super().__init__(items)
    ''')
    # Base.__init__ takes **options but no `strict`; list is not of this file, so its
    # parameters are unknown (Child's own __init__ is not what super() calls)
    assert forwarded(source, 8) == ["line 8: pass `**options` on"]
    assert forwarded(source, 13) == []
