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


def test_a_callee_of_another_module_of_the_repository():
    utils = src('''
        def natsort_key(value, key=None, alg=0):
            return value
    ''')
    files = {"src/natsort/utils.py": utils}
    public = src('''
        from .utils import natsort_key
        from . import utils as u
        import json


        def natsorted(seq, key=None, alg=0):
            return sorted(seq, key=lambda v: natsort_key(v, key)) + [u.natsort_key(v) for v in seq]


        def dumped(obj, indent=2):
            return json.dumps(obj)
    ''')
    got = mutants_at("src/natsort/natsort.py", public, [7, 11], read=files.get)
    lines = sorted(m.new_source.splitlines()[6].strip() for m in got if m.operator == "forward_param")
    assert lines == [
        "return sorted(seq, key=lambda v: natsort_key(v, key)) + [u.natsort_key(v, alg=alg) for v in seq]",
        "return sorted(seq, key=lambda v: natsort_key(v, key)) + [u.natsort_key(v, key=key) for v in seq]",
        "return sorted(seq, key=lambda v: natsort_key(v, key, alg=alg)) + [u.natsort_key(v) for v in seq]",
    ]
    # json is not a module of the repository: its signatures are unknown, nothing is offered
    assert mutants_at("src/natsort/natsort.py", public, [11]) == mutants_at(
        "src/natsort/natsort.py", public, [11], read=files.get)
    assert "forward_param" not in {m.operator for m in got if m.line == 11}


def test_where_an_imported_module_may_live():
    from harness.generators.forward_ops import module_files

    assert module_files("src/pkg/sub/mod.py", ".utils") == ["src/pkg/sub/utils.py", "src/pkg/sub/utils/__init__.py"]
    assert module_files("src/pkg/sub/mod.py", "..core") == ["src/pkg/core.py", "src/pkg/core/__init__.py"]
    assert module_files("src/pkg/mod.py", ".") == ["src/pkg.py", "src/pkg/__init__.py"]
    assert module_files("pkg/mod.py", "pkg.core")[-2:] == ["pkg/core.py", "pkg/core/__init__.py"]


def test_the_search_follows_no_link_in_the_worktree(tmp_path):
    """Code under test ran in the worktree: a module there that became a link (to a file
    outside) is neither mutated nor read for an imported callee's signature."""
    from harness.core.context import Context, SuspiciousLocation
    from harness.core.task import Task
    from harness.generators.templates import TemplateGenerator

    outside = tmp_path / "outside.py"
    outside.write_text("def natsort_key(value, key=None, alg=0):\n    return value\n")
    root = tmp_path / "work"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text(
        "from .utils import natsort_key\n\n\ndef natsorted(seq, key=None, alg=0):\n"
        "    return sorted(seq, key=lambda v: natsort_key(v, key))\n")
    (root / "pkg" / "linked.py").symlink_to(outside)

    def operators(utils_is_link: bool) -> set[str]:
        target = root / "pkg" / "utils.py"
        target.unlink(missing_ok=True)
        if utils_is_link:
            target.symlink_to(outside)
        else:
            target.write_text(outside.read_text())
        locs = [SuspiciousLocation("pkg/mod.py", 5, 1.0), SuspiciousLocation("pkg/linked.py", 2, 1.0)]
        got = TemplateGenerator().candidates(Context(root, Task("failing_tests"), locs, ()))
        assert all(m.path == "pkg/mod.py" for _, m in got)  # the linked file gets no candidate
        return {m.operator for _, m in got}

    assert "forward_param" in operators(utils_is_link=False)
    assert "forward_param" not in operators(utils_is_link=True)
