"""The release-pair miner on synthetic local sdists (no network), and the shipped suite file."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from evals.inject import is_test_path
from evals.release_env import requirements, venv_slot
from evals.release_mine import mine_pair
from evals.release_pairs import load_suite, same_as_developer, write_suite
from evals.release_trees import MAX_CHANGED_LINES, materialize, source_changes, source_tree
from tests.wheelhouse import tarball

SUITES = Path(__file__).resolve().parents[1] / "evals" / "suites"

CLAMP_OLD = '''__version__ = "1.0"


def clamp(x, lo, hi):
    """x limited to [lo, hi]."""
    if x < lo:
        return lo
    if x >= hi:
        return x
    return x
'''
CLAMP_NEW = CLAMP_OLD.replace('"1.0"', '"1.1"').replace("    if x >= hi:\n        return x",
                                                        "    if x >= hi:\n        return hi")
BIG_OLD = "def shout(s):\n    return s.upper()\n"
BIG_NEW = BIG_OLD + "".join(f"\n\ndef f{i}(s):\n    return s * {i}\n" for i in range(4))
TEST_OLD = "from mylib import clamp\n\n\ndef test_low():\n    assert clamp(-1, 0, 5) == 0\n"
TEST_NEW = TEST_OLD + "\n\ndef test_high():\n    assert clamp(9, 0, 5) == 5\n\n\ndef test_mid():\n" \
                      "    assert clamp(3, 0, 5) == 3\n\n\ndef test_broken_everywhere():\n    assert 0\n"
TEST_BIG_OLD = "from big import shout\n\n\ndef test_shout():\n    assert shout('a') == 'A'\n"
TEST_BIG_NEW = "from big import f2, shout\n" + TEST_BIG_OLD.split("\n", 1)[1] + \
    "\n\ndef test_f2():\n    assert f2('a') == 'aa'\n"  # fails to collect without big.py's change


def _sdist(folder: Path, version: str, files: dict[str, str]) -> Path:
    """``mylib-VERSION.tar.gz`` with one top folder and a PKG-INFO, as an sdist has."""
    return tarball(folder, "mylib", version, files)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(old sdist, new sdist, cache) where 1.1 fixes clamp (1 line + a version bump), adds 8
    lines to big.py with a test for them, and the cache holds a ready venv (this interpreter)."""
    tmp_path = tmp_path_factory.mktemp("pair")
    old = _sdist(tmp_path, "1.0", {"mylib.py": CLAMP_OLD, "big.py": BIG_OLD,
                                   "tests/test_mylib.py": TEST_OLD, "tests/test_big.py": TEST_BIG_OLD})
    new = _sdist(tmp_path, "1.1", {"mylib.py": CLAMP_NEW, "big.py": BIG_NEW,
                                   "tests/test_mylib.py": TEST_NEW, "tests/test_big.py": TEST_BIG_NEW,
                                   "tests/data/case.txt": "x\n"})
    cache = tmp_path / "cache"
    slot = venv_slot(["coverage", "pytest"], cache)
    (slot / "bin").mkdir(parents=True)
    (slot / "bin" / "python").symlink_to(sys.executable)
    (slot / ".ready").write_text("")
    return old, new, cache


@pytest.fixture(scope="module")
def mined(pair):
    """The tasks mined from ``pair`` (mined once: each mining runs pytest four times)."""
    old, new, cache = pair
    return mine_pair("mylib", str(old), str(new), cache=cache, timeout=120)


def test_source_changes_drop_version_bumps_and_count_lines(pair):
    old, new, cache = pair
    changes = source_changes(source_tree(str(old), "local", cache), source_tree(str(new), "local", cache))
    assert [(c.path, c.changed_lines) for c in changes] == [("mylib.py", 2), ("big.py", 16)]
    clamp = changes[0]
    assert '__version__ = "1.0"' in clamp.gold and "return hi" in clamp.gold
    assert clamp.patch.startswith("--- a/mylib.py\n+++ b/mylib.py\n")
    assert [ln for ln in clamp.patch.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")] \
        == ["-        return x", "+        return hi"]
    assert requirements(source_tree(str(old), "local", cache)) == ["coverage", "pytest"]


def test_mine_pair_keeps_the_small_fix_and_reverts_tests_it_does_not_fix(mined):
    tasks = mined
    assert len(tasks) == 1  # big.py changed 16 lines: never a task
    task = tasks[0]
    spec = task["repo"]["release_pair"]
    assert spec["file"] == "mylib.py"
    assert spec["old_tests"] == ["tests/test_big.py"]  # cannot import without big.py's change
    assert spec["deselect"] == ["tests/test_mylib.py::test_broken_everywhere"]
    assert task["tests"] == ["tests/test_mylib.py::test_high"]
    assert task["command"] == "fix" and "return hi" in task["gold_patch"]


def test_mine_pair_without_failing_tests_gives_nothing(pair, tmp_path):
    old, _new, cache = pair
    same_tests = _sdist(tmp_path, "1.0.1", {"mylib.py": CLAMP_NEW, "big.py": BIG_OLD,
                                            "tests/test_mylib.py": TEST_OLD, "tests/test_big.py": TEST_BIG_OLD})
    assert mine_pair("mylib", str(old), str(same_tests), cache=cache) == []


def test_materialize_builds_old_source_with_new_tests_and_its_venv(pair, mined, tmp_path):
    cache, task = pair[2], mined[0]
    out = tmp_path / "task"
    materialize(task["repo"]["release_pair"], out, cache=cache)
    git = lambda *a: subprocess.run(["git", *a], cwd=out, capture_output=True, text=True,  # noqa: E731
                                    check=True).stdout
    assert git("status", "--porcelain") == ""  # .venv is excluded, nothing else untracked
    tracked = set(git("ls-files").split())
    assert tracked == {"PKG-INFO", "conftest.py", "mylib.py", "big.py", "tests/test_mylib.py", "tests/test_big.py",
                       "tests/data/case.txt"}
    assert (out / "mylib.py").read_text() == CLAMP_OLD and (out / "big.py").read_text() == BIG_OLD
    assert (out / "tests/test_mylib.py").read_text() == TEST_NEW
    assert (out / "tests/test_big.py").read_text() == TEST_BIG_OLD
    python = out / ".venv" / "bin" / "python"
    run = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=out,
                         capture_output=True, text=True)
    assert run.returncode == 1 and "1 failed, 3 passed, 1 deselected" in run.stdout
    subprocess.run(["git", "apply", "-"], cwd=out, input=task["gold_patch"], text=True, check=True)
    assert subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=out,
                          capture_output=True).returncode == 0
    with pytest.raises(Exception, match="not empty"):
        materialize(task["repo"]["release_pair"], out, cache=cache)


def test_same_as_developer_accepts_equal_modules_only(pair, mined, tmp_path):
    cache, task = pair[2], mined[0]
    repo = materialize(task["repo"]["release_pair"], tmp_path / "task", cache=cache)
    gold = task["gold_patch"]
    spaced = gold.replace("+        return hi", "+        return (hi)")
    wrong = gold.replace("+        return hi", "+        return lo")
    assert same_as_developer(repo, gold, gold)
    assert same_as_developer(repo, spaced, gold)  # same AST
    assert not same_as_developer(repo, wrong, gold)
    assert not same_as_developer(repo, "", gold)
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True,
                          text=True).stdout == ""


def test_write_suite_round_trips_patches_as_literal_blocks(tmp_path):
    suite = {"suite": "x", "description": "d", "tasks": [{"id": "a", "gold_patch": "--- a/f\n+++ b/f\n \n-x\n+y\n"}]}
    write_suite(tmp_path / "s.yaml", suite)
    assert load_suite(tmp_path / "s.yaml") == suite
    assert "gold_patch: |" in (tmp_path / "s.yaml").read_text()


def _changed(patch: str) -> tuple[set[str], int]:
    files = {ln[6:] for ln in patch.splitlines() if ln.startswith("+++ b/")}
    lines = sum(1 for ln in patch.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++ ", "--- ")))
    return files, lines


def test_shipped_release_pair_suite():
    from evals.suite import load_suite as load_for_eval

    suite = load_suite(SUITES / "release-pairs.yaml")
    tasks = suite["tasks"]
    assert len(load_for_eval(SUITES / "release-pairs.yaml").tasks) == len(tasks)  # the runner's loader
    assert "release pair" in suite["description"].lower()
    assert len(tasks) >= 20 and len({t["id"] for t in tasks}) == len(tasks)
    packages = Counter(t["repo"]["release_pair"]["package"] for t in tasks)
    assert len(packages) >= 5, packages
    from evals.release_scan import SEEN

    taken = {"tabulate", "sqlparse", "xmltodict", "semantic-version", "toolz", "python-slugify",
             "jmespath", "six", "colorama", "pyflakes"}
    assert taken <= set(SEEN)  # the miner never mines them
    held = load_suite(SUITES / "release-pairs-heldout.yaml")["tasks"]
    assert not taken & {t["repo"]["release_pair"]["package"] for t in tasks + held}
    for t in tasks:
        spec = t["repo"]["release_pair"]
        files, lines = _changed(t["gold_patch"])
        assert files == {spec["file"]} and not is_test_path(spec["file"]), t["id"]
        assert 1 <= lines <= MAX_CHANGED_LINES, t["id"]
        assert t["command"] == "fix" and t["tests"] and t["timeout"] > 0
        assert re.fullmatch(r"[A-Za-z0-9.+!_-]+", spec["old"]) and spec["old"] != spec["new"]


def test_shipped_injected_suite_lists_the_benchmark_tasks():
    import json

    suite = load_suite(SUITES / "injected.yaml")
    bench = json.loads((SUITES / "default.json").read_text())
    assert [t["repo"]["prepare"] for t in suite["tasks"]] == \
        [{"spec": b["library"], "seed": b["seed"]} for b in bench]
    assert "operator" in suite["description"]


def test_summarize_counts_fixes_same_as_developer_and_quantiles():
    from evals.release_pairs import summarize

    rows = [{"status": "fixed", "wall_seconds": 10.0, "test_seconds": 8.0, "candidates": 3,
             "same_as_developer": True},
            {"status": "fixed", "wall_seconds": 20.0, "test_seconds": 12.0, "candidates": 5,
             "same_as_developer": False, "suspect": "removes a `raise`"},
            {"status": "not_fixed", "wall_seconds": 40.0, "candidates": 60, "same_as_developer": False}]
    s = summarize(rows)
    assert (s["total"], s["fixed"], s["same_as_developer"], s["suspect"]) == (3, 2, 1, 1)
    from evals.release_pairs import _table
    rows[0]["note"] = rows[1]["note"] = rows[2]["note"] = ""
    rows[0]["task"], rows[1]["task"], rows[2]["task"] = "a", "b", "c"
    assert "| b | fixed (suspect: removes a `raise`) | no |" in _table(rows, s)
    assert s["fixed_pct"] == pytest.approx(200 / 3) and s["same_pct_of_fixed"] == 50.0
    assert s["mean_candidates_per_fix"] == 4 and s["median_wall_s"] == 20.0 and s["p90_wall_s"] == 40.0
    assert s["median_wall_s_fixed"] == 15.0 and s["harness_overhead"] == pytest.approx(1 - 20 / 30)


def test_requirements_read_old_egg_info_sections(tmp_path):
    (tmp_path / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: old\nVersion: 1\n")
    (tmp_path / "old.egg-info").mkdir()
    (tmp_path / "old.egg-info" / "requires.txt").write_text(
        "six>=1.8.0\n\n[:python_version < \"3\"]\nfutures\n\n[docs]\nsphinx\n\n[test]\nflake8\n")
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\naddopts = --cov=old\n")
    assert requirements(tmp_path) == ["coverage", "flake8", "pytest", "pytest-cov", "six>=1.8.0"]


def test_comment_and_docstring_only_changes_are_not_candidates(tmp_path):
    old, new = tmp_path / "a", tmp_path / "b"
    for root, text in ((old, 'def f():\n    """Doc."""\n    return 1  # one\n'),
                       (new, 'def f():\n    """Better doc."""\n\n    return 1  # uno\n')):
        root.mkdir()
        (root / "m.py").write_text(text)
    assert source_changes(old, new) == []


def test_same_code_ignores_docstrings_comments_and_layout_only():
    from evals.release_trees import same_code

    old = '"""Parse things.\n\nv1.0: first."""\n\ndef f(x):\n    return x + 1  # add one\n'
    noted = '"""Parse things.\n\nv1.0: first.\nv1.1: f fixed."""\n\ndef f(x):\n    return (x + 1)\n'
    assert same_code(old, noted)
    assert not same_code(old, noted.replace("x + 1", "x + 2"))
    assert not same_code(old, "def f(x:\n")


def test_same_as_developer_reads_a_crlf_file_fixed_like_the_gold(tmp_path):
    # num2words' lang_PL.py is CRLF; its gold patch is stored with \n lines: the same word fixed
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "m.py").write_bytes(b"TENS = {\r\n    9: 'dziewiecdzisiat',\r\n}\r\n")
    subprocess.run("git init -q && git add -A && git -c user.email=a@b -c user.name=a commit -qm i",
                   shell=True, cwd=repo, check=True)
    gold = ("--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n TENS = {\n-    9: 'dziewiecdzisiat',\n"
            "+    9: 'dziewiecdziesiat',\n }\n")
    ours = gold.replace("\n", "\r\n").replace("--- a/m.py\r\n+++ b/m.py\r\n@@ -1,3 +1,3 @@\r\n",
                                                "--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n")
    assert same_as_developer(repo, ours, gold)
    assert not same_as_developer(repo, ours.replace("dziewiecdziesiat", "dziewiec"), gold)


def test_the_release_pair_sets_share_no_library():
    """Each set measures libraries the others never saw: the tune half, the held-out half and
    the later sets (fresh, fourth, fifth, sixth) are disjoint by library."""
    sets = {path.stem: {t["repo"]["release_pair"]["package"] for t in load_suite(path)["tasks"]}
            for path in sorted(SUITES.glob("release-pairs*.yaml"))}
    assert len(sets) >= 6, sorted(sets)
    names = sorted(sets)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not sets[a] & sets[b], (a, b, sets[a] & sets[b])
