"""Do runs that learn pay? ``python -m evals.bench_learn`` prints one table per row kind.

- *continue* (:mod:`harness.core.memory`): classic one-line tasks (:mod:`evals.classic`)
  the offline repairer leaves unfixed at ``B`` iterations are run again at ``2B`` on the same
  repository (the memory skips what the first run rejected), against one run at ``3B`` on a
  fresh copy. Printed: candidates evaluated twice (goal 0), the second run's wall seconds,
  fixed or not, and **the second run's wall against the 3B run's** (goal ≤ 0.75), with the
  B+2B total beside it for information. Why that reading of the issue ("wall time of the
  second run, fixed count: same as the 3B run, in ≤ 0.75 of its total wall time"): the
  question is what a user does *after* a run at B ended unfixed. The B run is spent either
  way; the choice is to continue (2B more) or to start again with the bigger budget (3B).
  Continuing pays if it fixes as many tasks in at most 0.75 of the restart's wall time (2/3
  is the ideal: 2B of the 3B iterations, the remembered B skipped). Compared with B+2B,
  two runs' fixed costs (start-up, worktrees, confirmation) against one run's would make
  the goal unreachable by construction, whatever the memory does.
- *ci* (:mod:`harness.core.baseline_cache`): a generated repository of ``--modules`` × 10
  tests (≥ 200), all passing; ``loopwright fix`` takes its baseline, a commit touches one
  source module, and a second run reuses the rest. Printed: baseline test seconds and run
  wall seconds of both runs and their ratio (goal ≤ 25 % for the baseline). *baseline test s*
  is the pytest processes' wall time; *baseline wall s* the whole baseline step (the
  environment key, hashing, the tests run, storing the cache: ``BaselineCache.wall``).
- *lessons* (:mod:`harness.core.lesson_records`): release-pair tasks of one library from
  ``evals/suites/release-pairs.yaml``, leave-one-out: each task is run without lessons,
  then again on a fresh copy whose lessons are the records of the *other* tasks' fixes
  (never its own). Printed: candidates per fix and fixed count with and without them.
  Downloads the library's sdists (pip, as :mod:`evals.sources` does) on first use.

Every ``loopwright fix --json`` runs as a subprocess of this interpreter (as
:mod:`evals.bench` does). Not a test: numbers depend on the machine and its load
(printed with them).

- *memory*: what remembering costs the hot path: microseconds per candidate to record it
  and to look it up, against the tenths of seconds a candidate's evaluation takes.

``python -m evals.bench_learn [--rows memory,continue,ci,lessons] [--budget B] [--classic NAME ...]
[--modules N] [--package parse] [--limit N] [--workdir DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from evals.classic import GIT_ENV, make_repo
from evals.classic_programs import PROGRAMS

ROOT = Path(__file__).resolve().parent.parent


def fix(repo: Path, *args: str, timeout: float = 1800) -> dict:
    """``loopwright fix REPO --json ARGS`` as a subprocess; its summary plus ``wall`` (seconds,
    measured here) and ``evaluated`` (digests of the candidates it evaluated)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["LOOPWRIGHT_WORKTREES"] = str(repo.parent / "worktrees")
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "loopwright", "fix", str(repo), "--json", *args],
                         capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    wall = time.monotonic() - t0
    try:
        out = json.loads(res.stdout)
    except json.JSONDecodeError:
        out = {"status": "bad_output", "stderr": res.stderr[-500:]}
    out["wall"] = wall
    out["evaluated"], out["baseline_seconds"], out["baseline_wall"] = [], None, None
    traj = repo / ".git" / "loopwright" / "runs" / str(out.get("run_id")) / "trajectory.jsonl"
    if traj.is_file():
        for line in traj.read_text().splitlines():
            step = json.loads(line)
            if step.get("action") == "evaluate":
                out["evaluated"].append(step["patch"]["digest"])
            elif step.get("action") == "baseline":
                out["baseline_seconds"], out["baseline_wall"] = step.get("seconds"), step.get("wall")
    return out


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


# -- continue -------------------------------------------------------------------------------

def continue_rows(work: Path, names: list[str], budget: int) -> list[dict]:
    """One row per classic task left unfixed at ``budget`` iterations (see the module)."""
    rows = []
    for name in names:
        a = make_repo(work / f"{name}-a", name, PROGRAMS[name])
        first = fix(a, "--max-iterations", str(budget))
        if first.get("status") == "fixed":
            continue  # fixed at B: not a task this row is about
        second = fix(a, "--max-iterations", str(2 * budget))
        b = make_repo(work / f"{name}-b", name, PROGRAMS[name])
        whole = fix(b, "--max-iterations", str(3 * budget))
        rows.append({"task": name, "first": len(first["evaluated"]), "second": len(second["evaluated"]),
                     "twice": len(set(first["evaluated"]) & set(second["evaluated"])),
                     "skipped": second.get("skipped_remembered"), "second_wall": second["wall"],
                     "fixed_continued": second.get("status") == "fixed",
                     "scratch": len(whole["evaluated"]), "fixed_scratch": whole.get("status") == "fixed",
                     "scratch_wall": whole["wall"],
                     "wall_ratio": second["wall"] / whole["wall"],
                     "total_ratio": (first["wall"] + second["wall"]) / whole["wall"]})
    return rows


def memory_row(work: Path, n: int = 1000) -> dict:
    """What the memory costs per candidate: microseconds to record one and to look one up,
    with ``n`` candidates remembered (a real repository, real patches)."""
    from harness.core.memory import CandidateMemory
    from harness.core.outcome import Outcome
    from sandbox.patch import Patch

    repo = work / "memory"
    repo.mkdir(parents=True)
    (repo / "m.py").write_text("".join(f"x{i} = {i}\n" for i in range(n)))
    _git(repo, "init", "-q", "-b", "main")
    patches = [Patch.from_diff(f"--- a/m.py\n+++ b/m.py\n@@ -{i + 1} +{i + 1} @@\n-x{i} = {i}\n+x{i} = {i + 1}\n",
                               f"x{i} + 1") for i in range(n)]
    mem = CandidateMemory(repo, "bench")
    failing = ["test_m.py::test_x"]
    t0 = time.perf_counter()
    for p in patches:
        mem.record(Outcome(p, False, "fixes none of the failing tests", "screen"), failing, repo)
    t1 = time.perf_counter()
    later = CandidateMemory(repo, "later")
    t2 = time.perf_counter()
    fresh, old = later.rejected(patches, failing, repo)
    t3 = time.perf_counter()
    mem.close()
    later.close()
    return {"n": n, "record_us": (t1 - t0) / n * 1e6, "lookup_us": (t3 - t2) / n * 1e6, "skipped": len(old)}


# -- ci ---------------------------------------------------------------------------------------

def ci_repo(root: Path, modules: int) -> Path:
    """A repository of ``modules`` source modules with 10 passing tests each."""
    root.mkdir(parents=True)
    (root / "pkg").mkdir()
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    for i in range(modules):
        (root / "pkg" / f"m{i}.py").write_text(textwrap.dedent(f"""\
            def work(n):
                total = 0
                for k in range(n):
                    total += (k * {i + 1}) % 7
                return total
            """))
        tests = [f"from pkg.m{i} import work\n"]
        for j in range(10):
            n = 2000 * (j + 1)
            tests.append(f"\ndef test_{j}():\n    assert work({n}) == sum((k * {i + 1}) % 7 for k in range({n}))\n")
        (root / "tests" / f"test_m{i}.py").write_text("".join(tests))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "suite")
    return root


def ci_row(work: Path, modules: int) -> dict:
    """The CI re-run row: two runs around a commit that touches one module."""
    repo = ci_repo(work / "ci" / "repo", modules)
    first = fix(repo)
    path = repo / "pkg" / "m3.py"
    path.write_text(path.read_text().replace("total = 0", "total = 0  # reviewed"))
    _git(repo, "commit", "-qam", "touch one module")
    second = fix(repo)
    return {"tests": modules * 10, "reused": second.get("baseline_reused"),
            "base1": first["baseline_seconds"], "base2": second["baseline_seconds"],
            "bwall1": first["baseline_wall"], "bwall2": second["baseline_wall"],
            "wall1": first["wall"], "wall2": second["wall"],
            "status": f"{first.get('status')}/{second.get('status')}"}


# -- lessons ----------------------------------------------------------------------------------

def lesson_rows(work: Path, package: str, limit: int) -> list[dict]:
    """Leave-one-out over the release-pair tasks of ``package`` (at most ``limit``)."""
    from evals.release_pairs import load_suite
    from evals.release_trees import materialize

    suite = load_suite(ROOT / "evals" / "suites" / "release-pairs.yaml")
    tasks = [t for t in suite["tasks"] if t["repo"]["release_pair"]["package"] == package][:limit]
    records: dict[str, list[str]] = {}
    rows = []
    for t in tasks:
        repo = materialize(t["repo"]["release_pair"], work / "lessons" / t["id"] / "without" / "repo")
        out = fix(repo)
        rec = repo / ".git" / "loopwright" / "lessons.jsonl"
        records[t["id"]] = rec.read_text().splitlines() if rec.is_file() else []
        rows.append({"task": t["id"], "without": out})
    for row in rows:
        repo = materialize(next(t for t in tasks if t["id"] == row["task"])["repo"]["release_pair"],
                           work / "lessons" / row["task"] / "with" / "repo")
        others = [ln for tid, lines in records.items() if tid != row["task"] for ln in lines]
        (repo / ".git" / "loopwright").mkdir(parents=True, exist_ok=True)
        (repo / ".git" / "loopwright" / "lessons.jsonl").write_text("".join(ln + "\n" for ln in others))
        row["with"], row["lessons"] = fix(repo), len(others)
    return rows


# -- printing -------------------------------------------------------------------------------

def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f", {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    """Run the chosen rows and print their tables; returns 0."""
    ap = argparse.ArgumentParser(prog="python -m evals.bench_learn", description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="memory,continue,ci,lessons")
    ap.add_argument("--budget", type=int, default=1, help="B: iterations of the first run (continue)")
    ap.add_argument("--classic", nargs="*", default=None, help="classic tasks (continue; default: 4 of them)")
    ap.add_argument("--modules", type=int, default=20, help="source modules × 10 tests (ci)")
    ap.add_argument("--package", default="parse", help="release-pair library (lessons)")
    ap.add_argument("--limit", type=int, default=4, help="release-pair tasks at most (lessons)")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="lw-learn-"))
    rows = set(args.rows.split(","))
    sys.stdout.reconfigure(line_buffering=True)  # rows appear as they are measured
    print(f"start: {_load()}")
    if "continue" in rows:
        names = args.classic or sorted(PROGRAMS)[:4]
        out = continue_rows(work / "continue", names, args.budget)
        print(f"\ncontinue (B = {args.budget} iteration(s); tasks unfixed at B of {', '.join(names)})")
        print(f"{'task':22} {'B cands':>7} {'2B cands':>8} {'twice':>5} {'skipped':>7} {'2B wall s':>9} "
              f"{'fixed B+2B':>10} {'3B cands':>8} {'fixed 3B':>8} {'3B wall s':>9} {'wall 2B/3B':>10} "
              f"{'(B+2B)/3B':>9}")
        for r in out:
            print(f"{r['task']:22} {r['first']:>7} {r['second']:>8} {r['twice']:>5} {r['skipped']!s:>7} "
                  f"{r['second_wall']:>9.1f} {r['fixed_continued']!s:>10} {r['scratch']:>8} "
                  f"{r['fixed_scratch']!s:>8} {r['scratch_wall']:>9.1f} {r['wall_ratio']:>10.2f} "
                  f"{r['total_ratio']:>9.2f}")
        if out:
            print(f"fixed: continued {sum(r['fixed_continued'] for r in out)}, 3B {sum(r['fixed_scratch'] for r in out)}; "
                  f"wall 2B/3B over all: {sum(r['second_wall'] for r in out) / sum(r['scratch_wall'] for r in out):.2f} "
                  f"(goal <= 0.75)")
        print(f"({_load()})")
    if "memory" in rows:
        r = memory_row(work)
        print(f"\nmemory overhead ({r['n']} candidates remembered): record {r['record_us']:.0f} µs, "
              f"look up {r['lookup_us']:.0f} µs per candidate (skipped {r['skipped']}) ({_load()})")
    if "ci" in rows:
        r = ci_row(work, args.modules)
        print(f"\nci re-run ({r['tests']} tests; a commit touches 1 of {args.modules} modules; status {r['status']})")
        print(f"{'':12} {'baseline test s':>15} {'baseline wall s':>15} {'run wall s':>10}")
        print(f"{'first run':12} {r['base1']!s:>15} {r['bwall1']!s:>15} {r['wall1']:>10.1f}")
        print(f"{'second run':12} {r['base2']!s:>15} {r['bwall2']!s:>15} {r['wall2']:>10.1f}   "
              f"reused {r['reused']} results")
        if r["base1"] and r["base2"] is not None and r["bwall1"] and r["bwall2"] is not None:
            print(f"{'ratio':12} {r['base2'] / r['base1']:>15.0%} {r['bwall2'] / r['bwall1']:>15.0%} "
                  f"{r['wall2'] / r['wall1']:>10.0%}")
        print(f"({_load()})")
    if "lessons" in rows:
        out = lesson_rows(work, args.package, args.limit)
        print(f"\nlessons ({args.package}, leave-one-out over {len(out)} release-pair task(s))")
        print(f"{'task':22} {'lessons':>7} {'without: status':>16} {'cands':>6} {'with: status':>13} {'cands':>6}")
        for r in out:
            w, o = r["without"], r["with"]
            print(f"{r['task']:22} {r['lessons']:>7} {w.get('status')!s:>16} {w.get('candidates_tried')!s:>6} "
                  f"{o.get('status')!s:>13} {o.get('candidates_tried')!s:>6}")
        print(f"fixed without: {sum(r['without'].get('status') == 'fixed' for r in out)}, "
              f"with: {sum(r['with'].get('status') == 'fixed' for r in out)} ({_load()})")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
