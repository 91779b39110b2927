"""What the sandbox costs: per-candidate evaluation time with and without bubblewrap.

``python -m evals.bench_sandbox TASK_DIR [TASK_DIR ...] [--reps 3]``

Each ``TASK_DIR`` is a prepared task (``python -m evals.prepare LIB==VER --seed N --out
DIR``). For every repetition, ``loopwright fix --json`` runs on a fresh clone of it
twice, once with ``LOOPWRIGHT_SANDBOX=strong`` (bubblewrap) and once with ``weak``
(process group only), in alternating order so drifting machine load hits both alike.
A candidate's evaluation time is the sum of its stage seconds in ``trajectory.jsonl``
(apply, probe, screen, lint/types, full, reset); candidates refused before running anything
(stage ``policy``) are left out. Printed: per task and mode, the median over all
candidates of all repetitions, and the strong/weak ratio. ``--before DIR`` adds a third
mode: the harness from another source tree (e.g. ``git archive`` of the commit before the
sandbox), run the same way. Not a test: speed goals live here, never in timed unit tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.core.state import RunFiles

MODES = ("strong", "weak")


def candidate_seconds(repo: Path, run_id: str) -> list[float]:
    """Evaluation seconds of each candidate of run ``run_id`` (from its trajectory)."""
    out = []
    path = RunFiles(repo, run_id, create=False).trajectory  # under .git/loopwright/runs/
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        verdict = rec.get("verdict") or {}
        if rec.get("action") == "evaluate" and verdict.get("stage") != "policy" and verdict.get("seconds"):
            out.append(sum(verdict["seconds"].values()))
    return out


def one_run(task: Path, mode: str, timeout: float, before: Path | None = None) -> tuple[list[float], dict]:
    """``loopwright fix --json`` on a fresh clone of ``task`` under ``mode`` (``before``: the
    harness from the source tree ``before``)."""
    work = Path(tempfile.mkdtemp(prefix="lw-sbx-"))
    try:
        clone = work / "repo"
        subprocess.run(["git", "clone", "-q", str(task), str(clone)], check=True)
        venv = task / ".venv"
        if venv.exists() and not (clone / ".venv").exists():
            (clone / ".venv").symlink_to(venv)
        env = {**os.environ, "LOOPWRIGHT_SANDBOX": mode, "LOOPWRIGHT_WORKTREES": str(work / "wt")}
        if mode == "before":
            env["PYTHONPATH"] = str(before)
        res = subprocess.run([sys.executable, "-m", "loopwright", "fix", str(clone), "--json"],
                             capture_output=True, text=True, env=env, timeout=timeout,
                             cwd=str(before) if mode == "before" else None)
        summary = json.loads(res.stdout)
        return candidate_seconds(clone, summary["run_id"]), summary
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the table; exit 0."""
    ap = argparse.ArgumentParser(prog="python -m evals.bench_sandbox", description=__doc__.split("\n")[0])
    ap.add_argument("tasks", nargs="+", type=Path)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--before", type=Path, default=None, help="also run the harness from this tree")
    args = ap.parse_args(argv)
    modes = MODES + (("before",) if args.before else ())
    print(f"load average at start: {os.getloadavg()}")
    print("| task | mode | runs | status | candidates | median s/candidate | mean s/candidate |")
    print("|---|---|---|---|---|---|---|")
    for task in args.tasks:
        seconds: dict[str, list[float]] = {m: [] for m in modes}
        statuses: dict[str, list[str]] = {m: [] for m in modes}
        for rep in range(args.reps):
            for mode in (modes if rep % 2 == 0 else modes[::-1]):
                secs, summary = one_run(task.resolve(), mode, args.timeout, args.before)
                # "before" is the other tree's harness in its default (strong) sandbox
                assert mode == "before" or summary.get("sandbox") == mode, summary.get("sandbox")
                seconds[mode] += secs
                statuses[mode].append(summary["status"])
        for mode in modes:
            s = seconds[mode]
            print(f"| {task.name} | {mode} | {args.reps} | {','.join(sorted(set(statuses[mode])))} | "
                  f"{len(s)} | {statistics.median(s):.3f} | {statistics.fmean(s):.3f} |" if s else
                  f"| {task.name} | {mode} | {args.reps} | {statuses[mode]} | 0 | - | - |")
        if seconds["strong"] and seconds["weak"]:
            ratio = statistics.median(seconds["strong"]) / statistics.median(seconds["weak"])
            print(f"| {task.name} | strong/weak | | | | {ratio:.3f} | |")
        if seconds.get("before") and seconds["strong"]:
            ratio = statistics.median(seconds["strong"]) / statistics.median(seconds["before"])
            print(f"| {task.name} | strong/before | | | | {ratio:.3f} | |")
    print(f"load average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
