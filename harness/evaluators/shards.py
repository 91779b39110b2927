"""One test run split by test file over processes run at once (the baseline's, on idle cores).

The baseline is the longest single step of a quick fix: the whole suite under per-test
coverage, which coverage.py's tracer makes 2-3 times slower than a plain run (sqlparse
0.6.1's 540 tests: 2.8 s plain, 7.5 s traced, one process). Nothing else runs then (the
candidates need its spectra), so on a machine with ``n`` validation slots the run is split
into ``n`` processes started together, each running whole test files, and their results,
spectra and import-time lines merged as one run's.

The split of a whole run is made inside pytest, after collection, by the plugin
(``loopwright_shard``): every process collects the whole suite and keeps the files of its
shard, assigned by file size (bytes, the same in every process, so every file lands in
exactly one shard). A run of selected ids is split here, by file, balanced on the ids'
known durations (:func:`harness.evaluators.confirm.chunks`).

Tests of different files no longer share a process. A test that passes only after another
file's tests changed some global state ("brittle", in the order-dependent test literature:
Lam et al., iDFlakies, ICST 2019) can fail here and pass in one process; the confirmation run
is split the same way, and the validator's flaky and pristine checks already treat tests that
fail or pass by their company.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from harness.evaluators.confirm import chunks
from harness.evaluators.pytest_output import NO_TESTS
from harness.evaluators.testrun import TestRun, merge_coverage


class PytestEvaluator(Protocol):
    """What a split run needs of :class:`harness.evaluators.pytest_runner.PytestEvaluator`
    (which imports this module)."""

    def run(self, root: Path, **kw) -> TestRun: ...


def sharded_run(ev: PytestEvaluator, root: Path, n: int, *, select: list[str] | None,
                durations: dict[str, float] | None = None, **kw) -> TestRun:
    """``ev.run(root, select=select, **kw)`` as up to ``n`` processes at once (no more than
    the cores idle when the split is made: :func:`idle_shards`, measured only then), merged
    into one :class:`TestRun`: results and spectra united, ``collected`` in the suite's
    collection order, ``duration`` the sum of the processes' seconds (what one process would
    have taken, which later limits are derived from), ``processes`` their count.

    A shard with no tests (fewer test files than shards) is no error. A shard that ran nothing
    has its files run again (:func:`_recovered`); the run's ``error`` is a shard's only when
    that could not be done (no shard collected: a conftest that cannot import fails them all
    alike) or failed too. ``durations``: test id -> seconds, to balance a ``select`` split.
    """
    if select is None:
        n = idle_shards(n)
        if n == 1:
            return ev.run(root, select=None, **kw)
        parts = _parallel(n, lambda k: ev.run(root, select=None, shard=(k, n), **kw))
        parts = _recovered(ev, root, parts, kw)
        if not consistent(parts):  # the processes collected different suites: one process, as before
            return ev.run(root, select=None, **kw)
    else:
        groups = chunks(list(select), durations or {}, n)
        if len(groups) > 1 and (idle := idle_shards(n)) < len(groups):
            groups = chunks(list(select), durations or {}, idle)
        if len(groups) == 1:
            return ev.run(root, select=select, **kw)
        given = kw.pop("paths", ())
        parts = _parallel(len(groups), lambda k: ev.run(
            root, select=groups[k], paths=sorted({t.split("::", 1)[0] for t in groups[k]}) if given else [], **kw))
    return merge(parts, select)


def consistent(parts: list[TestRun]) -> bool:
    """Whether the shards of a whole run saw the same test files (``TestRun.files``) and each
    file's tests ran in exactly one of them. A suite whose collection differs between processes
    (tests generated from a random or time-dependent source) could otherwise lose or double a
    file. Shards that did not collect (an import error in a conftest) are left to the merge."""
    seen = [p for p in parts if p.files]
    if not seen:
        return True
    if any(p.files != seen[0].files for p in seen):
        return False
    owned = [{t.split("::", 1)[0] for t in p.collected if "::" in t} for p in parts]  # not collection errors
    return sum(map(len, owned)) == len(set().union(*owned)) == len(seen[0].files)


def _recovered(ev: PytestEvaluator, root: Path, parts: list[TestRun], kw: dict) -> list[TestRun]:
    """``parts``, with the files of a shard whose process ran nothing (it did not finish
    collecting before its time ran out, on a loaded machine) run again in one process, when
    another shard's collection names them; unchanged when every shard ran or none did."""
    files = next((p.files for p in parts if p.files), [])
    lost = [p for p in parts if p.error and p.error != NO_TESTS and not p.results]
    if not lost or not files:
        return parts
    kept = {t.split("::", 1)[0] for p in parts for t in p.collected if "::" in t}
    missing = [f for f in files if f not in kept]
    if not missing:
        return [p for p in parts if p not in lost]
    again = ev.run(root, select=None, **{**kw, "paths": missing})
    return [p for p in parts if p not in lost] + [again]


def idle_shards(slots: int, sample: float = 0.2) -> int:
    """How many processes a split run should use: the ``slots``, at most the cores idle now,
    at least 1. On a busy machine a split only adds each process's start-up and collection.

    Idle cores are measured over ``sample`` seconds from ``/proc/stat`` (Linux: the idle and
    iowait share of all CPU time, times the core count). The 1-minute load average lags: right
    after a run's own tests it still counts them (a benchmark's back-to-back runs never split);
    it is used only where ``/proc/stat`` is missing.
    """
    cores = os.cpu_count() or 1
    try:
        first = _cpu_times()
        time.sleep(sample)
        busy, total = (b - a for a, b in zip(first, _cpu_times()))
        idle = cores * (1.0 - busy / total) if total > 0 else cores
    except (OSError, ValueError):
        try:
            idle = cores - os.getloadavg()[0]
        except OSError:  # neither: trust the slots
            idle = slots
    return max(1, min(slots, int(idle + 0.5)))


def _cpu_times() -> tuple[int, int]:
    """(busy, total) CPU ticks of all cores since boot, from ``/proc/stat``'s first line."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return total - idle, total


def _parallel(n: int, one) -> list[TestRun]:
    with ThreadPoolExecutor(n, thread_name_prefix="shard") as pool:
        return list(pool.map(one, range(n)))


def merge(parts: list[TestRun], select: list[str] | None = None) -> TestRun:
    """The shards' runs as one (see :func:`sharded_run`). ``collected`` follows the files'
    collection order the plugin reported (``TestRun.files``), or ``select``'s order."""
    ran = [p for p in parts if not (p.error == NO_TESTS and not p.results)]
    out = TestRun(processes=sum(p.processes for p in parts), duration=sum(p.duration for p in parts))
    if not ran:  # every shard empty: the suite has no tests
        out.error = parts[0].error if parts else NO_TESTS
        return out
    out.error = next((p.error for p in ran if p.error and not p.results), "")
    out.stopped = any(p.stopped for p in ran)
    for p in ran:
        out.results.update(p.results)
        out.calls.update(p.calls)
        merge_coverage(out.coverage, p.coverage)  # <import> lines: every process's, united
    ids = list(dict.fromkeys(t for p in ran for t in p.collected))
    order = next((p.files for p in ran if p.files), [])
    if select is not None:
        rank = {t: i for i, t in enumerate(select)}
        ids.sort(key=lambda t: rank.get(t, rank.get(t.split("::", 1)[0], len(rank))))
    elif order:
        rank = {f: i for i, f in enumerate(order)}
        ids.sort(key=lambda t: rank.get(t.split("::", 1)[0], len(rank)))  # stable: a file's own order kept
    out.collected = ids
    return out
