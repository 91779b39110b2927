"""The baseline's coverage run split by test file over processes at once
(harness/evaluators/shards.py, the plugin's loopwright_shard.py), on real pytest runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.evaluators.pytest_runner import PLUGIN_DIR, PytestEvaluator
from harness.evaluators.shards import consistent, merge
from harness.evaluators.testrun import TestRun
from harness.evaluators.verdict import TestResult
from tests.conftest import PYTHON


def assign(files, n, size):
    """The plugin's own assignment (its module, standard library only, loaded from its file)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("loopwright_shard_test", PLUGIN_DIR / "loopwright_shard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.assign(files, n, size)


LIB = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
STATEFUL = ("class TestState:\n    seen = []\n\n    @classmethod\n    def setup_class(cls):\n        cls.seen = []\n\n"
            + "".join(f"    def test_{i}(self):\n        type(self).seen.append({i})\n"
                      f"        assert type(self).seen == list(range({i + 1}))\n\n" for i in range(5)))
FILES = {
    "lib.py": LIB,
    "tests/test_add.py": "from lib import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n\n\n"
                         "def test_add_zero():\n    assert add(2, 0) == 2\n",
    "tests/test_mul.py": "from lib import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n",
    "tests/test_state.py": STATEFUL,
    "tests/sub/test_more.py": "from lib import add, mul\n\n\ndef test_both():\n    assert mul(add(1, 1), 1) == 0\n",
}


@pytest.fixture
def idle_cores(monkeypatch):
    """Every core counts as idle: the split these tests assert does not depend on the machine's load."""
    from harness.evaluators import shards

    monkeypatch.setattr(shards, "idle_shards", lambda n, sample=0.2: n)


def test_a_sharded_coverage_run_is_the_same_run_as_one_process(make_repo, idle_cores):
    root = make_repo(FILES)
    ev = PytestEvaluator(PYTHON)
    try:
        one = ev.run(root, coverage=True)
        two = ev.run(root, coverage=True, shards=2)
        three = ev.run(root, coverage=True, shards=3, select=[t for t in one.collected if "state" not in t])
    finally:
        ev.close()
    assert two.processes == 2 and not two.error
    assert two.collected == one.collected  # the suite's collection order, not the shards'
    assert {t: r.outcome for t, r in two.results.items()} == {t: r.outcome for t, r in one.results.items()}
    assert {t: r.outcome for t, r in one.results.items() if not r.ok} == {"tests/test_add.py::test_add": "failed"}
    lib = str(root / "lib.py")
    for tid in one.collected:  # each test's spectrum of the library is the same
        assert two.coverage[tid].get(lib) == one.coverage[tid].get(lib), tid
    assert lib in two.coverage["<import>"]  # every shard imported the library
    assert all(r.ok for t, r in two.results.items() if "test_state" in t)  # a file is never split
    assert three.processes == 3 and "tests/test_state.py::TestState::test_0" not in three.results
    assert three.collected == [t for t in one.collected if "state" not in t]


def test_more_shards_than_test_files_is_no_error_and_no_tests_is_one(make_repo, idle_cores):
    ev = PytestEvaluator(PYTHON)
    try:
        root = make_repo({"lib.py": LIB, "tests/test_mul.py": FILES["tests/test_mul.py"]})
        run = ev.run(root, coverage=True, shards=4)
        assert not run.error and list(run.results) == ["tests/test_mul.py::test_mul"] and run.processes == 4
        empty = ev.run(make_repo({"lib.py": LIB}), coverage=True, shards=2)
        assert empty.error == "no tests were collected"
    finally:
        ev.close()


def test_each_file_lands_in_exactly_one_shard_whatever_the_sizes():
    files = [f"t/test_{i}.py" for i in range(9)]
    sizes = {f: (i * 37) % 11 for i, f in enumerate(files)}
    for n in (1, 2, 3, 5):
        owner = assign(files, n, sizes.get)
        assert set(owner) == set(files) and set(owner.values()) <= set(range(n))
        loads = [sum(max(1, sizes[f]) for f in files if owner[f] == k) for k in range(n)]
        assert max(loads) - min(loads) <= max(max(1, s) for s in sizes.values())  # greedy: within one file


def test_shards_that_collected_different_suites_are_not_merged():
    def part(ids, files):
        return TestRun(results={t: TestResult(t, "passed") for t in ids}, collected=list(ids), files=files)

    files = ["a.py", "b.py"]
    assert consistent([part(["a.py::x"], files), part(["b.py::y"], files)])
    assert not consistent([part(["a.py::x"], files), part(["a.py::z", "b.py::y"], files)])  # a.py twice
    assert not consistent([part(["a.py::x"], files), part([], files)])  # b.py in neither
    assert not consistent([part(["a.py::x"], files), part(["b.py::y"], ["b.py", "a.py"])])
    merged = merge([part(["b.py::y"], files), part(["a.py::x"], files)])
    assert merged.collected == ["a.py::x", "b.py::y"] and merged.processes == 0


class _Scripted:
    """An evaluator whose runs are given: what each shard's process reported, and a record of
    the runs asked for (the recovery's own run is a real question: which files, with what)."""

    def __init__(self, parts):
        self.parts, self.asked = parts, []

    def run(self, root, select=None, shard=None, **kw):
        self.asked.append((shard, kw.get("paths")))
        if shard is not None:
            return self.parts[shard[0]]
        ids = [f"{f}::test" for f in kw["paths"]]
        return TestRun(results={t: TestResult(t, "passed") for t in ids}, collected=ids, processes=1)


def test_a_shard_that_ran_nothing_has_its_files_run_again_in_one_process(tmp_path, idle_cores):
    from harness.evaluators.shards import sharded_run

    files = ["t/a.py", "t/b.py", "t/c.py"]
    ran = TestRun(results={"t/b.py::x": TestResult("t/b.py::x", "failed")}, collected=["t/b.py::x"], files=files,
                  processes=1)
    lost = TestRun(error="pytest did not finish collecting before the process timeout", processes=1)
    ev = _Scripted([ran, lost])
    out = sharded_run(ev, tmp_path, 2, select=None, coverage=True)
    assert ev.asked[-1] == (None, ["t/a.py", "t/c.py"])  # the files the lost shard held, once
    assert not out.error and out.collected == ["t/a.py::test", "t/b.py::x", "t/c.py::test"]
    both_lost = sharded_run(_Scripted([lost, lost]), tmp_path, 2, select=None)
    assert both_lost.error.startswith("pytest did not finish collecting")  # nothing to recover from


def test_a_split_uses_only_the_idle_cores(monkeypatch):
    from harness.evaluators import shards

    monkeypatch.setattr(shards.os, "cpu_count", lambda: 2)
    ticks = iter([(0, 1000), (20, 1200)])  # 10 % busy over the sample: both cores idle
    monkeypatch.setattr(shards, "_cpu_times", lambda: next(ticks))
    assert shards.idle_shards(2, sample=0) == 2
    ticks = iter([(0, 1000), (150, 1200)])  # 75 % busy: one and a half cores taken
    monkeypatch.setattr(shards, "_cpu_times", lambda: next(ticks))
    assert shards.idle_shards(4, sample=0) == 1


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="Linux's /proc/stat (elsewhere: the load average)")
def test_the_idle_cores_are_read_from_this_machine():
    from harness.evaluators import shards

    busy, total = shards._cpu_times()
    assert 0 <= busy <= total and total > 0
    assert 1 <= shards.idle_shards(2, sample=0.05) <= 2


def test_on_a_busy_machine_the_run_is_not_split(make_repo, monkeypatch):
    from harness.evaluators import shards

    monkeypatch.setattr(shards, "idle_shards", lambda n, sample=0.2: 1)
    root = make_repo(FILES)
    ev = PytestEvaluator(PYTHON)
    try:
        run = ev.run(root, coverage=True, shards=2)
        picked = ev.run(root, shards=2, select=["tests/test_add.py::test_add", "tests/test_mul.py::test_mul"],
                        durations={"tests/test_add.py::test_add": 1.0, "tests/test_mul.py::test_mul": 1.0})
    finally:
        ev.close()
    assert run.processes == 1 and not run.files and len(run.results) == 9
    assert picked.processes == 1 and sorted(picked.results) == ["tests/test_add.py::test_add", "tests/test_mul.py::test_mul"]
