"""The bulk scan and the yield funnel of the release-pair miner, on local sdists (no network)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evals.release_env import venv_slot
from evals.release_mine import mine_pair
from evals.release_pairs import load_suite
from evals.release_scan import SEEN, mine_candidates, next_utc, scan_pair, stage_counts
from evals.release_trees import has_tests, source_changes
from tests.wheelhouse import tarball

LIB_OLD = "def clamp(x, lo, hi):\n    if x > hi:\n        return x\n    return max(x, lo)\n"
LIB_NEW = LIB_OLD.replace("        return x\n", "        return hi\n")
TEST_OLD = "from lib import clamp\n\n\ndef test_low():\n    assert clamp(-1, 0, 5) == 0\n"
TEST_NEW = TEST_OLD + "\n\ndef test_high():\n    assert clamp(9, 0, 5) == 5\n"


def _sdist(folder: Path, version: str, files: dict[str, str]) -> Path:
    """``lib-VERSION.tar.gz`` with one top folder and a PKG-INFO, as an sdist has."""
    return tarball(folder, "lib", version, files)


@pytest.fixture
def cache(tmp_path):
    """A cache whose venv for (coverage, pytest) is this interpreter: no pip install."""
    slot = venv_slot(["coverage", "pytest"], tmp_path / "cache")
    (slot / "bin").mkdir(parents=True)
    (slot / "bin" / "python").symlink_to(sys.executable)
    (slot / ".ready").write_text("")
    return tmp_path / "cache"


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_docs_config_and_version_modules_are_not_source_changes(tmp_path):
    common = {"lib/core.py": LIB_OLD}
    old = _tree(tmp_path / "a", {**common, "docs/conf.py": "release = '1.0'\nx = 1\n",
                                 "lib/_version.py": "version_json = '''{\"v\": \"1.0\"}'''\n",
                                 "lib/__init__.py": "version_info = (1, 0)\nname = 'lib'\n"})
    _tree(old, {"scripts/release.py": "x = 1\n"})
    _tree(tmp_path / "b", {"scripts/release.py": "x = 2\n"})
    new = _tree(tmp_path / "b", {"lib/core.py": LIB_NEW, "docs/conf.py": "release = '1.1'\nx = 2\n",
                                 "lib/_version.py": "version_json = '''{\"v\": \"1.1\"}'''\n",
                                 "lib/__init__.py": "version_info = (1, 1)\nname = 'lib'\n"})
    assert [(c.path, c.changed_lines) for c in source_changes(old, new)] == [("lib/core.py", 2)]


def test_build_hooks_at_the_root_are_not_source_changes(tmp_path):
    # bracex 3.1 -> 3.2 changed only its hatchling build hook: the miner spent a whole-suite run on it
    old = _tree(tmp_path / "a", {"lib/core.py": LIB_OLD, "hatch_build.py": "x = 1\n", "tasks.py": "y = 1\n",
                                 "lib/build.py": "z = 1\n"})
    new = _tree(tmp_path / "b", {"lib/core.py": LIB_OLD, "hatch_build.py": "x = 2\n", "tasks.py": "y = 2\n",
                                 "lib/build.py": "z = 2\n"})
    assert [c.path for c in source_changes(old, new)] == ["lib/build.py"]  # a package's own build.py is source


def test_has_tests_wants_a_test_module_not_only_a_conftest(tmp_path):
    assert not has_tests(_tree(tmp_path / "a", {"lib.py": LIB_OLD, "conftest.py": "", "README": "tests/"}))
    assert has_tests(_tree(tmp_path / "b", {"lib.py": LIB_OLD, "tests/test_lib.py": TEST_OLD}))


def test_scan_pair_says_where_a_pair_stops(tmp_path, cache):
    d = tmp_path / "sdists"
    v1 = _sdist(d, "1.0", {"lib.py": LIB_OLD, "tests/test_lib.py": TEST_OLD})
    v2 = _sdist(d, "1.1", {"lib.py": LIB_NEW, "tests/test_lib.py": TEST_NEW})
    bare = _sdist(d, "1.2", {"lib.py": LIB_NEW})
    big = _sdist(d, "1.3", {"lib.py": LIB_NEW + "".join(f"\n\ndef f{i}():\n    return {i}\n" for i in range(3)),
                            "tests/test_lib.py": TEST_NEW})
    docs = _sdist(d, "1.4", {"lib.py": LIB_NEW, "tests/test_lib.py": TEST_NEW + "\n", "docs/conf.py": "x = 1\n"})
    stage = lambda a, b: scan_pair("lib", str(a), str(b), cache)["stage"]  # noqa: E731
    row = scan_pair("lib", str(v1), str(v2), cache)
    assert (row["stage"], row["modules_changed"], row["small"]) == ("candidate", 1, ["lib.py (2)"])
    assert stage(v2, bare) == "no_tests_in_sdist"
    assert stage(v2, big) == "no_small_change"
    assert stage(v2, docs) == "no_module_changed"
    assert scan_pair("lib", str(v1), str(d / "missing.tar.gz"), cache)["stage"] == "download_failed"


def test_mine_pair_says_why_a_candidate_gives_no_task(tmp_path, cache):
    d = tmp_path / "sdists"
    v1 = _sdist(d, "1.0", {"lib.py": LIB_OLD, "tests/test_lib.py": TEST_OLD})
    untested = _sdist(d, "1.1", {"lib.py": LIB_NEW, "tests/test_lib.py": TEST_OLD})  # its tests did not change
    quiet = _sdist(d, "1.2", {"lib.py": LIB_NEW, "tests/test_lib.py": TEST_OLD + "\n\ndef test_mid():\n"
                              "    assert clamp(3, 0, 5) == 3\n"})  # the new test passes on N too
    wrong = _sdist(d, "1.3", {"lib.py": LIB_OLD.replace("max(x, lo)", "max(lo, x)"), "tests/test_lib.py": TEST_NEW})
    for new, expected in ((untested, "no_test_changed"), (quiet, "tests_pass_before"), (wrong, "gold_not_passing")):
        why: dict = {}
        assert mine_pair("lib", str(v1), str(new), cache=cache, timeout=120, why=why) == []
        assert why["stage"] == expected, why


def test_a_change_that_fixes_no_changed_test_costs_no_whole_suite_run(tmp_path, cache, monkeypatch):
    import evals.release_mine as release_mine

    runs: list[list[str] | None] = []
    real = release_mine.run_pytest

    def counting(python, repo, ids=None, **kw):
        runs.append(ids)
        return real(python, repo, ids, **kw)
    monkeypatch.setattr(release_mine, "run_pytest", counting)
    d = tmp_path / "sdists"
    v1 = _sdist(d, "1.0", {"lib.py": LIB_OLD, "tests/test_lib.py": TEST_OLD})
    wrong = _sdist(d, "1.3", {"lib.py": LIB_OLD.replace("max(x, lo)", "max(lo, x)"), "tests/test_lib.py": TEST_NEW})
    why: dict = {}
    assert mine_pair("lib", str(v1), str(wrong), cache=cache, timeout=120, why=why) == []
    assert why["stage"] == "gold_not_passing" and runs == [["tests/test_lib.py"], ["tests/test_lib.py"]], runs
    runs.clear()
    right = _sdist(d, "1.1", {"lib.py": LIB_NEW, "tests/test_lib.py": TEST_NEW})
    assert len(mine_pair("lib", str(v1), str(right), cache=cache, timeout=120)) == 1
    assert None in runs  # a change that fixes a changed test is judged on the whole suite


def test_mine_candidates_writes_tasks_and_a_funnel_row_per_pair(tmp_path, cache):
    d = tmp_path / "sdists"
    v1 = _sdist(d, "1.0", {"lib.py": LIB_OLD, "tests/test_lib.py": TEST_OLD})
    v2 = _sdist(d, "1.1", {"lib.py": LIB_NEW, "tests/test_lib.py": TEST_NEW})
    scan, suite, funnel = tmp_path / "scan.jsonl", tmp_path / "mined.yaml", tmp_path / "funnel.jsonl"
    rows = [{"package": "lib", "old": str(v1), "new": str(v2), "stage": "candidate"},
            {"package": "lib", "old": str(v2), "new": str(d / "gone.tar.gz"), "stage": "download_failed"},
            {"package": SEEN[0], "old": str(v1), "new": str(v2), "stage": "candidate"}]  # already used: never mined
    scan.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert mine_candidates(scan, suite, funnel, cache=cache, log=lambda _m: None) == 1
    mined = [json.loads(line) for line in funnel.read_text().splitlines()]
    assert [(r["package"], r["stage"], r["tasks"]) for r in mined] == [("lib", "task", 1)]
    task = load_suite(suite)["tasks"][0]
    assert task["tests"] == ["tests/test_lib.py::test_high"] and "+        return hi" in task["gold_patch"]
    assert mine_candidates(scan, suite, funnel, cache=cache, log=lambda _m: None) == 0  # nothing left to mine
    assert stage_counts(rows, mined) == {"task": 1, "download_failed": 1, "candidate": 1}


def test_mine_candidates_shards_take_disjoint_libraries(tmp_path, cache):
    scan, suite = tmp_path / "scan.jsonl", tmp_path / "mined.yaml"
    rows = [{"package": f"lib{i}", "old": str(tmp_path / "a.tar.gz"), "new": str(tmp_path / "b.tar.gz"),
             "stage": "candidate"} for i in range(6)]
    scan.write_text("".join(json.dumps(r) + "\n" for r in rows))
    taken = []
    for k in range(2):
        funnel = tmp_path / f"funnel{k}.jsonl"
        mine_candidates(scan, suite, funnel, cache=cache, log=lambda _m: None, shard=(k, 2))
        taken.append({json.loads(line)["package"] for line in funnel.read_text().splitlines()})
    assert taken[0] and taken[1] and not taken[0] & taken[1]
    assert taken[0] | taken[1] == {r["package"] for r in rows}


def test_test_requirements_come_from_tox_groups_files_and_the_tests_own_imports(tmp_path):
    from evals.release_env import test_requirements

    tree = _tree(tmp_path / "t", {
        "PKG-INFO": "Metadata-Version: 2.1\nName: lib\nVersion: 1\n",
        "tox.ini": "[tox]\nenvlist = py3\n\n[testenv]\ndeps =\n    pytest>=7\n    pytest-cov\n"
                   "    py38: backports.zoneinfo\n    -rrequirements.txt\n    git+https://example.invalid/x.git\n"
                   "    flake8\ncommands = pytest\n",
        "pyproject.toml": "[project]\nname = 'lib'\n\n[dependency-groups]\ntest = ['pretend>=1', {include-group = 'x'}]\n"
                          "docs = ['sphinx']\n",
        "requirements/tests.txt": "# for the tests\ntestfixtures==6.0  # pinned\n",
        "tests/test_lib.py": "import hypothesis\nfrom lib import clamp\n\n\ndef test_a(mocker):\n    pass\n",
    })
    assert test_requirements(tree) == ["backports.zoneinfo", "hypothesis", "pretend", "pytest-mock", "testfixtures"]
    assert test_requirements(_tree(tmp_path / "bare", {"lib.py": LIB_OLD})) == []


def test_a_pytest_usage_error_is_not_a_pair_whose_tests_pass(tmp_path, cache):
    d = tmp_path / "sdists"
    ini = {"pytest.ini": "[pytest]\naddopts = --no-such-option\n"}  # N's config: a plugin's option, say
    v1 = _sdist(d, "1.0", {"lib.py": LIB_OLD, "tests/test_lib.py": TEST_OLD, **ini})
    broken = _sdist(d, "1.1", {"lib.py": LIB_NEW, "tests/test_lib.py": TEST_NEW, **ini})
    why: dict = {}
    assert mine_pair("lib", str(v1), str(broken), cache=cache, timeout=120, why=why) == []
    assert why["stage"] == "pytest_error" and "exit 4" in why["detail"] and "no-such-option" in why["detail"], why


def test_changed_tests_are_new_or_edited_test_modules_only(tmp_path):
    from evals.release_trees import changed_tests

    old = _tree(tmp_path / "a", {"lib.py": LIB_OLD, "tests/test_lib.py": TEST_OLD, "tests/test_same.py": "x = 1\n",
                                 "tests/helpers.py": "y = 1\n"})
    new = _tree(tmp_path / "b", {"lib.py": LIB_NEW, "tests/test_lib.py": TEST_NEW, "tests/test_same.py": "x = 1\n",
                                 "tests/helpers.py": "y = 2\n", "tests/sub/new_test.py": "z = 1\n",
                                 "tests/data/case.txt": "new\n"})
    assert changed_tests(old, new) == ["tests/sub/new_test.py", "tests/test_lib.py"]


def test_run_pytest_reads_failing_ids_when_the_project_forces_colour(tmp_path):
    from evals.release_env import run_pytest

    repo = _tree(tmp_path / "r", {"lib.py": LIB_OLD, "tests/test_lib.py": TEST_NEW,
                                  "pytest.ini": "[pytest]\naddopts = --color=yes\n"})
    rc, failing = run_pytest(Path(sys.executable), repo, timeout=120)
    assert (rc, failing) == (1, {"tests/test_lib.py::test_high"})


def test_until_a_time_already_past_today_means_tomorrow():
    now = datetime(2026, 12, 7, 23, 18, 30, tzinfo=UTC)
    assert next_utc("00:10", now) == datetime(2026, 12, 8, 0, 10, tzinfo=UTC)
    assert next_utc("23:40", now) == datetime(2026, 12, 7, 23, 40, tzinfo=UTC)
    with pytest.raises(ValueError):
        next_utc("midnight", now)
