"""A name the tests ask a package for, defined in a sibling module the package does not import
(``harness.generators.message_imports``, issue 21): re-exported by one import, end to end too."""

from __future__ import annotations

from harness.generators.message_evidence import Evidence, Files
from harness.generators.message_imports import reexports
from tests.conftest import fix_offline

INIT = "# the package\n\nfrom .core import *  # noqa\n"
VERSION = "__title__ = 'pkg'\n__version__ = '2.1.0'\n__author__ = 'A. Dev'\n"
CORE = "def parse(url):\n    return url.split('/')\n"
TESTS = ("import pkg\n\n\ndef test_parse():\n    assert pkg.parse('a/b') == ['a', 'b']\n\n\n"
         "def test_metadata():\n    assert pkg.__title__ and pkg.__version__ and pkg.__author__\n")


def _files(tree: dict[str, str]) -> Files:
    return Files(tree.get, ("tests/*",))


def _lister(tree: dict[str, str]):
    return lambda directory: [p for p in tree if p.rpartition("/")[0] == directory and p.endswith(".py")]


def test_a_name_the_package_lacks_is_imported_from_the_sibling_that_defines_it():
    tree = {"pkg/__init__.py": INIT, "pkg/__version__.py": VERSION, "pkg/core.py": CORE, "tests/test_pkg.py": TESTS}
    found = [Evidence("tests/test_pkg.py::test_metadata", "AttributeError",
                      "module 'pkg' has no attribute '__title__'", ())]
    got = reexports(_files(tree), found, _lister(tree))
    assert len(got) == 1
    score, mutant = got[0]
    # every name the test asks the package for that the sibling defines, in one import after the last one
    assert mutant.new_source == INIT + "from .__version__ import __title__, __version__, __author__\n"
    assert score == 1.0 and mutant.operator == "import_asked"


def test_an_import_error_and_what_is_not_a_candidate():
    tree = {"pkg/__init__.py": "VERSION = 1\n", "pkg/util.py": "def helper():\n    return 1\n",
            "tests/test_pkg.py": "from pkg import helper, VERSION\n"}
    found = [Evidence("tests/test_pkg.py", "ImportError", "cannot import name 'helper' from 'pkg' (pkg/__init__.py)", ())]
    (score, mutant), = reexports(_files(tree), found, _lister(tree))
    assert mutant.new_source == "from .util import helper\nVERSION = 1\n" and score == 1.0
    # a name no sibling defines, a name the package already binds, a plain module: nothing
    for text in ("module 'pkg' has no attribute 'missing'", "module 'pkg' has no attribute 'VERSION'"):
        assert reexports(_files(tree), [Evidence("t", "AttributeError", text, ())], _lister(tree)) == []
    flat = {"mod.py": "X = 1\n", "other.py": "Y = 2\n"}
    assert reexports(_files(flat), [Evidence("t", "AttributeError", "module 'mod' has no attribute 'Y'", ())],
                     _lister(flat)) == []


def test_fix_re_exports_the_version_metadata(make_repo):
    summary, _root, _ = fix_offline(make_repo, {
        "pkg/__init__.py": INIT, "pkg/__version__.py": VERSION, "pkg/core.py": CORE, "tests/test_pkg.py": TESTS})
    assert summary["status"] == "fixed", summary
    diff = summary.get("patch") or summary.get("diff") or ""
    assert "+from .__version__ import __title__, __version__, __author__" in diff, diff
