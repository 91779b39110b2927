"""A plausible patch that takes a public name away from a module is suspect (issue 21)."""

from __future__ import annotations

from harness.core.public_api import public_names, removed_public_names
from tests.conftest import fix_offline

COMPAT = "import sys\n\nPY3 = sys.version_info[0] >= 3\nPY36 = sys.version_info >= (3, 6)\n"


def test_public_names_of_a_module():
    text = ("import os\nfrom x import y\n_private = 1\nLIMIT = 3\na, b = 1, 2\n"
            "def run():\n    pass\n\nclass Box:\n    size = 1\n    def open(self):\n        pass\n"
            "    def _seal(self):\n        pass\n")
    assert public_names(text) == {"LIMIT", "a", "b", "run", "Box", "Box.size", "Box.open"}
    # __all__ decides when the module declares it
    assert public_names("__all__ = ['run']\ndef run(): pass\ndef helper(): pass\n") == {"run"}
    assert public_names("def broken(:\n") == set()


def test_a_rename_of_a_public_name_is_an_api_break_an_alias_is_not():
    renamed = COMPAT.replace("PY36 =", "PY38 =")
    why = removed_public_names({"pkg/compat.py": COMPAT}, {"pkg/compat.py": renamed})
    assert why.startswith("removes the public name `PY36` from pkg/compat.py")
    aliased = COMPAT + "PY38 = PY36\n"
    assert removed_public_names({"pkg/compat.py": COMPAT}, {"pkg/compat.py": aliased}) == ""


def test_private_names_imports_methods_and_test_modules():
    old = "import json\n\ndef _helper():\n    pass\n\nclass C:\n    def get(self):\n        pass\n"
    # a private function renamed, an import moved into a function: no API taken away
    new = "def _helper2():\n    import json\n\nclass C:\n    def get(self):\n        pass\n"
    assert removed_public_names({"m.py": old}, {"m.py": new}) == ""
    # a public method renamed is
    assert "`C.get`" in removed_public_names({"m.py": old}, {"m.py": old.replace("def get", "def fetch")})
    # a test module's names are not API, a new file has no old API, a removed file is not judged here
    assert removed_public_names({"tests/test_m.py": old}, {"tests/test_m.py": ""}) == ""
    assert removed_public_names({"m.py": None}, {"m.py": "x = 1\n"}) == ""


def test_fix_keeps_the_old_public_name_when_the_test_asks_for_a_new_one(make_repo):
    # the test imports PY38; renaming PY36 to PY38 passes it and breaks PY36's callers, which
    # no test of this repository has: an alias that keeps PY36 is the patch to choose
    summary, _root, _ = fix_offline(make_repo, {
        "pkg/__init__.py": "",
        "pkg/compat.py": COMPAT + "\n\ndef describe():\n    return 'py36+' if PY36 else 'old'\n",
        "tests/test_compat.py": ("from pkg import compat\n\n\ndef test_py3():\n    assert compat.PY3\n\n\n"
                                 "def test_describe():\n    assert compat.describe() == 'py36+'\n\n\n"
                                 "def test_py38():\n    from pkg.compat import PY38\n    assert PY38\n"),
    })
    assert summary["status"] == "fixed"
    diff = summary.get("patch") or summary.get("diff") or ""
    assert "-PY36 =" not in diff, diff
    assert not summary.get("suspect"), summary.get("suspect")
