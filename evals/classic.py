"""Classic one-line algorithm bugs as tiny repositories: ``python -m evals.classic``.

NOT the held-out set of issue 9. These programs and their bugs were written for this
project (after the kind of one-line bugs QuixBugs holds, Lin et al., SPLASH 2017
companion) by the same engineer who wrote the repair operators they exercise, so they
measure reach on familiar ground, not generalization. Each task is a correct program,
the same program with one line changed (the bug), and tests. Every task is made into a
git repository under ``--workdir``; ``loopwright fix REPO --json`` runs on it as a
subprocess (as :mod:`evals.bench` does) and the table says whether it was fixed, and
whether the fix is the developer's (the patched file's AST equals the correct one's).

``python -m evals.classic [--only NAME ...] [--workdir DIR] [--timeout S] [--json OUT]``
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from evals.classic_programs import PROGRAMS, with_bug

HARNESS_CMD = [sys.executable, "-m", "loopwright", "fix"]
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}


def make_repo(root: Path, name: str, program: dict) -> Path:
    """Write the buggy program and its tests as a one-commit git repository ``root/name``.

    ``program``: ``{"source": correct text, "bug": (old line text, new line text),
    "tests": test module text}``. Raises ValueError when the bug's line is not in the source.
    """
    import os

    repo = root / name
    repo.mkdir(parents=True)
    try:
        text = with_bug(program)[0]
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    (repo / f"{name}.py").write_text(text)
    (repo / f"test_{name}.py").write_text(textwrap.dedent(program["tests"]).lstrip())
    env = {**os.environ, **GIT_ENV}
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "bug"]):
        subprocess.run(["git", *cmd], cwd=repo, env=env, check=True, capture_output=True)
    return repo


def same_as_developer(program: dict, patched: str) -> bool:
    """Does the patched module equal the correct one (ASTs compared, formatting ignored)?"""
    try:
        return ast.dump(ast.parse(patched)) == ast.dump(ast.parse(textwrap.dedent(program["source"])))
    except SyntaxError:
        return False


def run_one(root: Path, name: str, program: dict, timeout: float) -> dict:
    """Run ``loopwright fix`` on one task; returns its row (status, same, seconds, ...)."""
    repo = make_repo(root, name, program)
    t0 = time.monotonic()
    try:
        res = subprocess.run([*HARNESS_CMD, str(repo), "--json"], capture_output=True, text=True,
                             timeout=timeout)
        summary = json.loads(res.stdout or "{}")
    except (subprocess.TimeoutExpired, json.JSONDecodeError):
        summary = {"status": "timeout_or_bad_output"}
    wall = time.monotonic() - t0
    same = False
    if summary.get("status") == "fixed" and summary.get("branch"):
        patched = subprocess.run(["git", "show", f"{summary['branch']}:{name}.py"], cwd=repo,
                                 capture_output=True, text=True).stdout
        same = same_as_developer(program, patched)
    return {"task": name, "status": summary.get("status"), "same": same,
            "candidates": summary.get("candidates_tried"), "plausible": summary.get("plausible_patches"),
            "wall_seconds": round(wall, 1), "chosen": summary.get("chosen", [])}


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; prints a table. Returns 0, or 2 (nothing run) for an unknown task name or a
    ``--workdir`` that already holds one of the tasks."""
    ap = argparse.ArgumentParser(prog="python -m evals.classic", description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="task names (default: all)")
    ap.add_argument("--workdir", default=None, help="where the task repositories are made (default: a new "
                    "temporary folder); it must not hold a task of an earlier run")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--json", default=None, help="write the rows here")
    args = ap.parse_args(argv)
    root = Path(args.workdir or tempfile.mkdtemp(prefix="loopwright-classic-"))
    names = args.only or sorted(PROGRAMS)
    unknown = [name for name in names if name not in PROGRAMS]
    taken = [name for name in names if (root / name).exists()]
    if unknown or taken:  # checked before any run: a half-made table helps nobody
        print(f"unknown task(s): {', '.join(unknown)} (known: {', '.join(sorted(PROGRAMS))})" if unknown else
              f"{root} already holds {', '.join(taken)} from an earlier run: give a new --workdir, or remove "
              "those folders", file=sys.stderr)
        return 2
    rows = []
    print(f"{'task':24} {'status':12} {'same':5} {'cands':>6} {'plaus':>6} {'wall s':>7}  chosen")
    for name in names:
        row = run_one(root, name, PROGRAMS[name], args.timeout)
        rows.append(row)
        print(f"{name:24} {row['status']!s:12} {str(row['same']):5} {row['candidates']!s:>6} "
              f"{row['plausible']!s:>6} {row['wall_seconds']:>7}  {'; '.join(row['chosen'])[:70]}",
              flush=True)
    fixed = sum(r["status"] == "fixed" for r in rows)
    same = sum(r["same"] for r in rows)
    print(f"fixed {fixed}/{len(rows)}, same as the developer's fix {same}/{len(rows)}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
