"""The benchmark's bug injector and task preparation, on tiny local projects (offline)."""

from __future__ import annotations

import ast
import difflib
import json
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from evals.inject import InjectError, Site, apply_site, choose_sites, find_sites, is_test_path
from evals.prepare import prepare_task
from evals.sources import BadInput, PrepareError, run_tests

MODULE = textwrap.dedent('''\
    """A tiny module with one of every kind of injection site."""

    LIMIT = 10


    def clamp(x, lo=0, hi=LIMIT):
        """Keep x within [lo, hi]."""
        return max(lo, min(x, hi))


    def is_small(n):
        if n < 3 and n >= 0:
            return True
        return False


    def total(xs):
        acc = 0
        for x in xs:
            acc += x
        return acc - 0 + len(xs[1:])


    def label(s):
        if not s:
            return "é" + "empty"
        return s[:-1] if s.endswith("!") else s


    def width(s):
        return len("é" + s) + 1  # non-ASCII before a site: offsets are UTF-8 bytes
''')

TESTS = textwrap.dedent('''\
    from tinylib import clamp, is_small, label, total, width


    def test_clamp():
        assert clamp(-5) == 0
        assert clamp(5) == 5
        assert clamp(50) == 10


    def test_is_small():
        assert is_small(2) and is_small(0)
        assert not is_small(3) and not is_small(-1)


    def test_total():
        assert total([1, 2, 3]) == 8
        assert total([]) == 0


    def test_label():
        assert label("") == "éempty"
        assert label("hi!") == "hi"
        assert label("hi") == "hi"


    def test_width():
        assert width("ab") == 4
''')


def make_project(root: Path) -> Path:
    """Write an sdist-shaped project ``tinylib-0.1/`` under root; return its folder."""
    proj = root / "tinylib-0.1"
    (proj / "tinylib").mkdir(parents=True)
    (proj / "tests").mkdir()
    (proj / "tinylib" / "__init__.py").write_text(MODULE, encoding="utf-8")
    (proj / "tests" / "test_tinylib.py").write_text(TESTS, encoding="utf-8")
    (proj / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: tinylib\nVersion: 0.1\n")
    (proj / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    return proj


def make_sdist(root: Path) -> Path:
    proj = make_project(root / "src")
    archive = root / "tinylib-0.1.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(proj, arcname=proj.name)
    return archive


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          check=True).stdout.strip()


# -- injector ---------------------------------------------------------------------------
def test_find_sites_covers_every_kind():
    kinds = {s.kind for s in find_sites(MODULE, "tinylib/__init__.py")}
    assert kinds == {"compare", "arith", "augassign", "const", "slice", "boolop", "not",
                     "minmax", "return"}


@pytest.mark.parametrize("site", find_sites(MODULE, "m.py"), ids=lambda s: s.description)
def test_every_site_is_a_one_line_change_that_parses(site: Site):
    out = apply_site(MODULE, site).decode("utf-8")
    ast.parse(out)
    before, after = MODULE.splitlines(), out.splitlines()
    assert len(before) == len(after)
    changed = [i + 1 for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert changed == [site.line]
    diff = [ln for ln in difflib.unified_diff(before, after, lineterm="", n=0)
            if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert len(diff) == 2


def test_byte_offsets_after_non_ascii_text():
    sites = [s for s in find_sites(MODULE, "m.py") if "é" in MODULE.splitlines()[s.line - 1]
             and s.kind in ("arith", "const")]
    lines = {apply_site(MODULE, s).decode().splitlines()[s.line - 1].split("#")[0].strip()
             for s in sites}
    assert lines == {'return len("é" + s) - 1', 'return len("é" + s) + 2',
                     'return len("é" + s) + 0'}


def test_choose_sites_is_deterministic_and_seed_dependent():
    modules = {"tinylib/__init__.py": MODULE.encode(), "tests/test_x.py": TESTS.encode()}
    a = choose_sites(modules, None, seed=7)
    assert a == choose_sites(modules, None, seed=7)
    assert all(not is_test_path(s.path) for s in a)
    firsts = {choose_sites(modules, None, seed=s)[0].key() for s in range(1, 9)}
    assert len(firsts) > 1


def test_choose_sites_keeps_only_executed_lines():
    modules = {"m.py": MODULE.encode()}
    line = next(i for i, ln in enumerate(MODULE.splitlines(), 1) if "n < 3" in ln)
    sites = choose_sites(modules, {"m.py": {line}}, seed=1)
    assert sites and all(s.line == line for s in sites)


def test_apply_site_rejects_stale_span():
    site = find_sites(MODULE, "m.py")[0]
    with pytest.raises(InjectError):
        apply_site(MODULE.replace("LIMIT = 10", "LIMIT  = 10").replace("\n\n", "\n#\n", 1), site)


def test_is_test_path():
    assert is_test_path("tests/test_a.py") and is_test_path("pkg/tests/util.py")
    assert is_test_path("conftest.py") and is_test_path("pkg/a_test.py")
    assert not is_test_path("pkg/testament.py") and not is_test_path("pkg/core.py")


# -- prepare ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """One tinylib task prepared from a local sdist: (info, archive, cache, tmp)."""
    tmp = tmp_path_factory.mktemp("prep")
    archive = make_sdist(tmp)
    cache = tmp / "cache"
    info = prepare_task(str(archive), 3, tmp / "a", cache_dir=cache, mutant_timeout=30)
    return info, archive, cache, tmp


def test_prepare_from_sdist_is_reproducible_and_breaks_tests(prepared):
    info, archive, cache, tmp = prepared
    repo = Path(info.repo)
    assert (info.library, info.version, info.seed) == ("tinylib", "0.1", 3)
    assert info.file == "tinylib/__init__.py" and info.failing_tests >= 1
    assert git(repo, "log", "--format=%s").splitlines()[0] == "inject bug"
    assert git(repo, "rev-list", "--count", "HEAD") == "2"
    assert git(repo, "status", "--porcelain") == ""
    diff = git(repo, "diff", "-U0", "HEAD~1", "HEAD")
    assert [ln for ln in diff.splitlines() if ln.startswith(("-", "+"))
            and not ln.startswith(("---", "+++"))] == [f"-{info.old_line}", f"+{info.new_line}"]
    run = run_tests(repo, 60)
    assert run.returncode == 1 and len(run.failed) == info.failing_tests

    again = prepare_task(str(archive), 3, tmp / "b", cache_dir=cache, mutant_timeout=30)
    assert (again.base_commit, again.bug_commit) == (info.base_commit, info.bug_commit)
    assert git(Path(again.repo), "rev-parse", "HEAD") == info.bug_commit


def test_prepare_cli_from_directory_with_other_seed(tmp_path: Path):
    proj = make_project(tmp_path / "src")
    info = prepare_task(str(proj), 1, tmp_path / "r1", cache_dir=tmp_path / "c")
    res = subprocess.run([sys.executable, "-m", "evals.prepare", str(proj), "--seed", "2",
                          "--out", str(tmp_path / "r2"), "--cache-dir", str(tmp_path / "c"),
                          "--json"], capture_output=True, text=True, check=False,
                         cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, res.stderr
    other = json.loads(res.stdout)
    assert info.library == other["library"] == "tinylib"
    assert info.failing_tests >= 1 and other["failing_tests"] >= 1
    assert info.base_commit == other["base_commit"]
    assert info.bug_commit != other["bug_commit"]


def test_prepare_rejects_broken_suite_and_bad_input(tmp_path: Path):
    proj = make_project(tmp_path / "src")
    (proj / "tests" / "test_broken.py").write_text("def test_no():\n    assert False\n")
    with pytest.raises(PrepareError, match="do not pass before injection"):
        prepare_task(str(proj), 1, tmp_path / "out", cache_dir=tmp_path / "c")
    with pytest.raises(BadInput):
        prepare_task("not a spec!", 1, tmp_path / "out2", cache_dir=tmp_path / "c")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(BadInput):
        prepare_task(str(proj), 1, tmp_path / "full", cache_dir=tmp_path / "c")


# -- bench (table and summary math on fake rows; no harness run) --------------------------
def _row(status, wall, test, cands, verified=None):
    from evals.bench_report import Row

    return Row("lib", "1.0", 1, status, wall_seconds=wall, test_seconds=test,
               candidates_tried=cands, verified=verified)


def test_bench_summary_math():
    from evals.bench_report import summarize

    rows = [_row("fixed", 10.0, 6.0, 3, True), _row("fixed", 20.0, 10.0, 5, False),
            _row("not_fixed", 30.0, 24.0, 40), _row("timeout", 300.0, None, None),
            *[_row("fixed", 1.0 + i, 0.5, 1, True) for i in range(6)]]
    s = summarize(rows)
    assert (s["total"], s["fixed"], s["verified"]) == (10, 8, 7)
    assert s["fix_rate"] == 0.8
    walls = sorted([10.0, 20.0, 30.0, 300.0, 1, 2, 3, 4, 5, 6])
    assert s["median_wall_s"] == (walls[4] + walls[5]) / 2
    assert s["p90_wall_s"] == 30.0  # nearest rank: the 9th of 10
    assert s["mean_candidates_per_fix"] == (3 + 5 + 6) / 8
    share = (6 + 10 + 24 + 3) / (10 + 20 + 30 + sum(range(1, 7)))
    assert s["test_share"] == pytest.approx(share)
    assert s["harness_overhead"] == pytest.approx(1 - share)
    empty = summarize([])
    assert empty["total"] == 0 and empty["median_wall_s"] is None and empty["test_share"] is None


def test_bench_render_and_summary_parsing():
    from rich.console import Console

    from evals.bench import _parse_summary, _patch_files
    from evals.bench_report import render, summarize

    rows = [_row("fixed", 12.5, 5.0, 4, True), _row("not_fixed", 40.0, 30.0, 17)]
    console = Console(record=True, width=140)
    render(rows, summarize(rows), console)
    text = console.export_text()
    assert "fixed / total" in text and "1 / 2" in text and "harness overhead" in text
    assert "40%" in text  # 5 / 12.5 test share for the first row
    obj = {"status": "fixed", "wall_seconds": 1.0}
    assert _parse_summary(json.dumps(obj, indent=2)) == obj
    assert _parse_summary("warming up\n" + json.dumps(obj)) == obj
    assert _parse_summary("no json here") is None
    patch = "--- a/pkg/m.py\n+++ b/pkg/m.py\n@@ -1 +1 @@\n-a\n+b\n"
    assert _patch_files(patch) == ["pkg/m.py"]


def test_bench_suite_file_is_valid():
    from evals.bench import DEFAULT_SUITE, load_suite

    tasks = load_suite(DEFAULT_SUITE)
    assert len(tasks) >= 20
    assert len({t["library"] for t in tasks}) >= 2
    assert len({(t["library"], t["seed"]) for t in tasks}) == len(tasks)


FAKE_HARNESS = textwrap.dedent('''\
    import json, pathlib, subprocess, sys
    repo = sys.argv[1]
    assert sys.argv[2:] == ["--json"]
    patch = (pathlib.Path(__file__).parent / "patch.diff").read_text()
    count = subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=repo,
                           capture_output=True, text=True).stdout.strip()
    assert count == "1", count  # a shallow clone: the injection commit's parent is hidden
    print("noise on stderr", file=sys.stderr)
    print(json.dumps({"run_id": "r1", "status": "fixed", "stop_reason": "all_tests_pass",
                      "patch": patch, "wall_seconds": 2.0, "test_seconds": 1.5,
                      "candidates_tried": 3, "iterations": 1, "exit_code": 0}, indent=2))
''')


def test_bench_run_task_with_fake_harness(prepared, tmp_path: Path):
    from evals.bench import run_task

    info = prepared[0].to_dict()
    path, line = info["file"], info["line"]
    buggy = (Path(info["repo"]) / path).read_text(encoding="utf-8").splitlines(keepends=True)
    fixed = list(buggy)
    fixed[line - 1] = info["old_line"] + "\n"
    good = "".join(difflib.unified_diff(buggy, fixed, f"a/{path}", f"b/{path}"))
    rows = {}
    for name, patch in (("good", good), ("empty", ""), ("tests", good.replace(path, "tests/x.py"))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "fake.py").write_text(FAKE_HARNESS)
        (tmp_path / name / "patch.diff").write_text(patch)
        rows[name] = run_task(info, tmp_path / name / "run",
                              harness_cmd=[sys.executable, str(tmp_path / name / "fake.py")])
    good_row = rows["good"]
    assert good_row.status == "fixed" and good_row.verified is True, good_row.note
    assert good_row.candidates_tried == 3 and good_row.test_share == 0.75
    assert good_row.patch_files == [path] and good_row.run_id == "r1"
    assert rows["empty"].verified is False and "empty" in rows["empty"].note
    assert rows["tests"].verified is False and "test files" in rows["tests"].note


def test_prepare_a_src_layout_with_cov_in_addopts_reports_progress_on_stderr(tmp_path: Path):
    # a src-layout package is not importable from the checkout until installed, and
    # `--cov` in addopts is refused without pytest-cov (or fights our coverage run with it)
    proj = tmp_path / "srclib-0.1"
    (proj / "src" / "srclib").mkdir(parents=True)
    (proj / "tests").mkdir()
    (proj / "src" / "srclib" / "__init__.py").write_text(textwrap.dedent('''\
        def middle(xs):
            n = len(xs)
            mid = n // 2
            return xs[mid]
    '''))
    (proj / "tests" / "test_srclib.py").write_text(textwrap.dedent('''\
        from srclib import middle

        def test_middle():
            assert middle([1, 2, 3]) == 2
            assert middle([1, 2, 3, 4, 5]) == 3
    '''))
    (proj / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: srclib\nVersion: 0.1\n")
    (proj / "pyproject.toml").write_text('[tool.pytest.ini_options]\n'
                                         'addopts = "--cov=srclib --cov-report term-missing -ra"\n')
    res = subprocess.run([sys.executable, "-m", "evals.prepare", str(proj), "--seed", "1",
                          "--out", str(tmp_path / "task"), "--cache-dir", str(tmp_path / "c"), "--json"],
                         capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)  # stdout is the JSON alone
    assert info["file"] == "src/srclib/__init__.py" and info["failing_tests"] >= 1
    assert "tests pass" in res.stderr and "try 1:" in res.stderr  # progress, on stderr
