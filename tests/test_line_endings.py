"""A CRLF file stays CRLF: a patch changes the lines it names and nothing else, whether it
was written with ``\\r\\n`` (the offline repairer reads files with their own line ends) or
``\\n`` (a model's SEARCH/REPLACE or diff). Before, every reader decoded with universal
newlines, and the accepted patch rewrote every line of the file (num2words' ``lang_PL.py``)."""

from __future__ import annotations

from sandbox.patch import Patch, apply_patch
from tests.conftest import fix_offline

CRLF = b"# a module\r\n\r\n\r\ndef is_adult(age):\r\n    return age > 18\r\n"


def test_a_patch_written_with_lf_keeps_a_crlf_file_crlf(tmp_path):
    (tmp_path / "adult.py").write_bytes(CRLF)
    lf = CRLF.decode().replace("\r\n", "\n")
    patch = Patch.from_texts({"adult.py": (lf, lf.replace("age > 18", "age >= 18"))}, "x", {})
    assert "\r" not in patch.diff
    apply_patch(tmp_path, patch)
    assert (tmp_path / "adult.py").read_bytes() == CRLF.replace(b"age > 18", b"age >= 18")


def test_loopwright_fix_changes_one_line_of_a_crlf_file(make_repo, tmp_path):
    tests = "from adult import is_adult\n\n\ndef test_eighteen():\n    assert is_adult(18)\n\n\n" \
            "def test_ten():\n    assert not is_adult(10)\n"
    out, root, _before = fix_offline(make_repo, {"adult.py": CRLF.decode(), "test_adult.py": tests})
    assert out["status"] == "fixed", out
    changed = [ln for ln in out["patch"].splitlines(keepends=True)
               if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert changed == ["-    return age > 18\r\n", "+    return age >= 18\r\n"], out["patch"]
