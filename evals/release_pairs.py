"""Real regressions mined from PyPI release pairs: a benchmark not built from the repairer's operators.

For a library with consecutive releases N and N+1, a task is N's source with N+1's
test files, where some of N+1's tests fail, and where applying N+1's change to ONE
non-test module (at most :data:`~evals.release_trees.MAX_CHANGED_LINES` added + removed lines, not
counting a ``__version__`` bump) makes the whole suite pass. That change is the
developer's fix (the gold patch). Nothing here is derived from the offline
repairer's mutation operators: the bugs are whatever the developers fixed.

This module is the command line and the stopgap runner (until ``loopwright eval``
took over); the pieces are below it: :mod:`evals.release_trees` (source trees, the
developer's change, the task tree, :func:`~evals.release_trees.materialize`),
:mod:`evals.release_mine` (:func:`~evals.release_mine.mine_pair`) and
:mod:`evals.release_env` (the task's venv and pytest run).

``python -m evals.release_pairs scan PACKAGE [--pairs K]`` lists release pairs with a
small one-module change (downloads only, no tests run).
``python -m evals.release_pairs mine PACKAGE [--pairs K | --versions V1 V2 ...] --suite FILE``
mines the last K consecutive release pairs of PACKAGE and appends the tasks to a suite
file (the shared YAML format, ``repo: {release_pair: ...}``).
``python -m evals.release_pairs run SUITE --out DIR [--limit N] [--only ID ...]`` runs
``loopwright fix TASK --json`` (offline default generator) on each task and writes
``DIR/results.json`` and ``DIR/results.md`` (task, status, same as developer,
candidates, wall seconds) plus the summary.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

import yaml

from evals.release_mine import mine_pair
from evals.release_trees import MAX_CHANGED_LINES, materialize, same_code, source_changes, source_tree
from evals.sources import PrepareError, run_process

__all__ = ["load_suite", "main", "same_as_developer", "summarize", "versions", "write_suite"]

ROOT = Path(__file__).resolve().parents[1]
DESCRIBE = "Command line for the release-pair suite: scan, mine, and run ``loopwright fix`` on it."
DESCRIPTION = (
    "Real regressions from PyPI release pairs, not built from the repairer's operators. For "
    "consecutive releases N and N+1 of a library, a task is N's source with N+1's test files; "
    "some of N+1's tests fail, and N+1's change to ONE non-test module (at most "
    f"{MAX_CHANGED_LINES} added + removed lines; a __version__ bump, comment- or docstring-only "
    "changes not counted) makes every test pass. That change is gold_patch; `tests` are the tests "
    "failing before it. Tests that fail with and without the change (another module's fix, or "
    "this environment) are deselected by a root-conftest hook (repo.release_pair.deselect), and a "
    "test file that cannot even be collected without another module's change keeps N's version "
    "(repo.release_pair.old_tests). Mined with `python -m evals.release_pairs mine` from 146 "
    "consecutive pairs of 18 small pure-Python libraries whose sdists ship tests (parse, "
    "pathspec, tenacity, funcy, h11, furl, pycodestyle gave tasks; json5, schema, jsonpointer, "
    "dpath, tinydb, tomlkit, tzlocal, beautifulsoup4, nameparser, soupsieve, mccabe did not), "
    "chosen by a download-only scan for small one-module changes.")


# -- suite files ----------------------------------------------------------------------------
def load_suite(path: Path) -> dict:
    """Read a suite YAML file: ``{suite, description, tasks: [...]}`` (empty when absent).

    Raises:
        ValueError: not YAML, or no ``tasks`` list.
    """
    path = Path(path)
    if not path.exists():
        return {"suite": path.stem, "description": DESCRIPTION, "tasks": []}
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        raise ValueError(f"{path}: expected a mapping with a `tasks` list")
    return data


class _Dumper(yaml.SafeDumper):
    """Emits multi-line strings as literal blocks even when a line ends in spaces (a diff's
    blank context line is one space); PyYAML would quote them, which is legal but unreadable."""

    def analyze_scalar(self, scalar):
        analysis = super().analyze_scalar(scalar)
        if "\n" in scalar and scalar.replace("\n", "").isprintable():
            analysis.allow_block = True
        return analysis


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def write_suite(path: Path, suite: dict) -> None:
    """Write a suite as YAML (multi-line strings such as gold patches as literal blocks)."""
    text = yaml.dump(suite, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    Path(path).write_text(text, "utf-8")


# -- mining commands ------------------------------------------------------------------------
def versions(package: str) -> list[str]:
    """Release versions, oldest first, as ``pip index versions`` lists them (no pre-releases).

    Raises:
        PrepareError: pip could not list them (no such package, registry unreachable).
    """
    res = subprocess.run([sys.executable, "-m", "pip", "index", "versions", package],
                         capture_output=True, text=True, timeout=120, check=False)
    for line in res.stdout.splitlines():
        if line.startswith("Available versions:"):
            return [v.strip() for v in line.split(":", 1)[1].split(",")][::-1]
    raise PrepareError(f"pip index versions {package} failed: {res.stderr.strip()[-500:]}")


def _pairs(args) -> list[tuple[str, str]]:
    vers = args.versions or versions(args.package)[-(args.pairs + 1):]
    return list(zip(vers, vers[1:]))


def _scan(args) -> int:
    for old, new in _pairs(args):
        try:
            changes = source_changes(source_tree(args.package, old), source_tree(args.package, new))
        except PrepareError as exc:
            print(f"{old} -> {new}: {str(exc)[:200]}")
            continue
        small = [f"{c.path} ({c.changed_lines})" for c in changes if c.changed_lines <= MAX_CHANGED_LINES]
        print(f"{old} -> {new}: {len(changes)} modules changed; small: {', '.join(small) or '-'}")
    return 0


def _mine(args) -> int:
    suite = load_suite(args.suite)
    have = {t["id"] for t in suite["tasks"]}
    for old, new in _pairs(args):
        try:
            tasks = mine_pair(args.package, old, new, timeout=args.test_timeout,
                              log=lambda m: print(m, file=sys.stderr, flush=True))
        except PrepareError as exc:
            print(f"{args.package} {old} -> {new}: skipped: {str(exc)[:300]}", file=sys.stderr)
            continue
        fresh = [t for t in tasks if t["id"] not in have]
        suite["tasks"].extend(fresh)
        have |= {t["id"] for t in fresh}
        suite["description"] = suite.get("description") or DESCRIPTION
        write_suite(args.suite, suite)
    print(f"{args.suite}: {len(suite['tasks'])} tasks", file=sys.stderr)
    return 0


# -- running --------------------------------------------------------------------------------
def _changed_file(patch: str) -> tuple[str, str] | None:
    """(path, resulting text marker) of a one-file patch, or None for several files/none."""
    paths = {ln[6:].split("\t")[0].strip() for ln in patch.splitlines() if ln.startswith("+++ b/")}
    return (paths.pop(), "") if len(paths) == 1 else None


def same_as_developer(repo: Path, patch: str, gold: str) -> bool:
    """True when ``patch`` and ``gold`` touch the same single file and give the same module
    (identical text after dropping whitespace, or the same AST once docstrings are dropped:
    a developer's fix that also adds a changelog line to the module docstring still counts).

    Both are applied with ``git apply`` to copies of ``repo``'s file taken from HEAD.
    """
    mine, theirs = _changed_file(patch), _changed_file(gold)
    if not mine or not theirs or mine[0] != theirs[0]:
        return False
    texts = []
    for diff in (patch, gold):
        # --ignore-whitespace: a gold patch stored with \n lines still applies to a CRLF file
        res = subprocess.run(["git", "apply", "--cached", "--whitespace=nowarn", "--ignore-whitespace", "-"], cwd=repo,
                             input=diff, capture_output=True, text=True, check=False)
        shown = subprocess.run(["git", "show", f":{mine[0]}"], cwd=repo, capture_output=True,
                               text=True, check=False).stdout
        subprocess.run(["git", "reset", "-q"], cwd=repo, check=False, capture_output=True)
        if res.returncode != 0:
            return False
        texts.append(shown)
    return "".join(texts[0].split()) == "".join(texts[1].split()) or same_code(texts[0], texts[1])


def _run_one(task: dict, out: Path, timeout: float, fix_args: list[str] = ()) -> dict:
    slot = out / "tasks" / task["id"]
    row = {"task": task["id"], "status": "error", "same_as_developer": False, "candidates": None,
           "wall_seconds": None, "note": "", "suspect": ""}
    shutil.rmtree(slot, ignore_errors=True)
    try:
        repo = materialize(task["repo"]["release_pair"], slot / "repo")
    except Exception as exc:  # on purpose: any setup failure (issue 24) is this task's row, the run goes on
        row.update(status="prepare_error", note=f"{type(exc).__name__}: {exc}"[:300])
        slot.mkdir(parents=True, exist_ok=True)
        (slot / "traceback.txt").write_text(traceback.format_exc())
        return row
    cmd = [sys.executable, "-m", "loopwright", "fix", str(repo), "--json", *fix_args]
    t0 = time.monotonic()
    with open(slot / "harness.stderr.log", "w") as err:
        rc, stdout = run_process(cmd, ROOT, min(timeout, float(task.get("timeout") or timeout)),
                                 {k: v for k, v in __import__("os").environ.items()
                                  if k not in ("PYTHONPATH", "VIRTUAL_ENV")}, stderr=err)
    row["wall_seconds"] = round(time.monotonic() - t0, 2)
    if rc is None:
        row.update(status="timeout", note=f"killed after {timeout:g}s")
        return row
    try:
        summary = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else None
    except json.JSONDecodeError:
        summary = None
    if not isinstance(summary, dict):
        try:
            summary = json.loads(stdout)
        except json.JSONDecodeError:
            row.update(status="bad_output", note=f"exit {rc}; see {slot}/harness.stderr.log")
            return row
    patch = summary.get("patch") or ""
    row.update(status=str(summary.get("status", "error")), candidates=summary.get("candidates_tried"),
               note=str(summary.get("stop_reason") or summary.get("error") or "")[:160],
               suspect=str(summary.get("suspect") or ""))
    if row["status"] == "error":  # the harness's own words, from its stderr
        said = [ln for ln in (slot / "harness.stderr.log").read_text(errors="replace").splitlines() if ln.strip()]
        row["note"] = said[-1][:160] if said else row["note"]
    if isinstance(summary.get("wall_seconds"), (int, float)):
        row["wall_seconds"] = round(float(summary["wall_seconds"]), 2)
    if isinstance(summary.get("test_seconds"), (int, float)):
        row["test_seconds"] = round(float(summary["test_seconds"]), 2)
    row["same_as_developer"] = bool(patch) and row["status"] == "fixed" and \
        same_as_developer(repo, patch, task.get("gold_patch") or "")
    row["patch"] = patch
    return row


def _pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..1), None for an empty list."""
    s = sorted(values)
    return s[max(0, math.ceil(p * len(s)) - 1)] if s else None


def summarize(rows: list[dict]) -> dict:
    """total, fixed, fixed_pct, same_as_developer (count and % of fixes), suspect (fixes reported
    ``fixed (suspect: …)`` by the overfit checks), candidates per fix
    (mean), median and p90 wall seconds over all tasks and over fixed tasks (nearest rank),
    and harness_overhead = 1 - (sum of test seconds / sum of wall seconds) over the tasks
    that report both (as :func:`evals.bench_report.summarize` computes it)."""
    fixed = [r for r in rows if r["status"] == "fixed"]
    walls = [r["wall_seconds"] for r in rows if r["wall_seconds"] is not None]
    fixed_walls = [r["wall_seconds"] for r in fixed if r["wall_seconds"] is not None]
    cands = [r["candidates"] for r in fixed if isinstance(r["candidates"], int)]
    same = sum(1 for r in fixed if r["same_as_developer"])
    suspect = sum(1 for r in fixed if r.get("suspect"))
    both = [r for r in rows if r.get("test_seconds") is not None and r["wall_seconds"]]
    wall_sum = sum(r["wall_seconds"] for r in both)
    overhead = 1.0 - sum(r["test_seconds"] for r in both) / wall_sum if wall_sum else None
    return {"total": len(rows), "fixed": len(fixed),
            "fixed_pct": 100.0 * len(fixed) / len(rows) if rows else None,
            "same_as_developer": same, "same_pct_of_fixed": 100.0 * same / len(fixed) if fixed else None,
            "suspect": suspect, "mean_candidates_per_fix": statistics.mean(cands) if cands else None,
            "median_wall_s": statistics.median(walls) if walls else None, "p90_wall_s": _pct(walls, 0.9),
            "median_wall_s_fixed": statistics.median(fixed_walls) if fixed_walls else None,
            "p90_wall_s_fixed": _pct(fixed_walls, 0.9), "harness_overhead": overhead}


def _table(rows: list[dict], summary: dict) -> str:
    lines = ["| task | status | same as developer | candidates | wall s | note |",
             "|---|---|---|---:|---:|---|"]
    for r in rows:
        status = f"{r['status']} (suspect: {r['suspect']})" if r.get("suspect") else r["status"]
        lines.append(f"| {r['task']} | {status.replace('|', '/')} | {'yes' if r['same_as_developer'] else 'no'} | "
                     f"{r['candidates'] if r['candidates'] is not None else '-'} | "
                     f"{r['wall_seconds'] if r['wall_seconds'] is not None else '-'} | "
                     f"{r['note'].replace('|', '/')} |")
    lines += ["", "```", json.dumps(summary, indent=2), "```"]
    return "\n".join(lines) + "\n"


def _run(args) -> int:
    try:
        tasks = load_suite(args.suite)["tasks"]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tasks = [t for t in tasks if not args.only or t["id"] in args.only][: args.limit]
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for task in tasks:
        rows.append(_run_one(task, args.out, args.timeout, shlex.split(args.fix_args)))
        r = rows[-1]
        print(f"{r['task']}: {r['status']}{' (suspect)' if r.get('suspect') else ''} same={r['same_as_developer']} "
              f"cands={r['candidates']} "
              f"wall={r['wall_seconds']} {r['note'][:80]}", file=sys.stderr, flush=True)
        summary = summarize(rows)
        (args.out / "results.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))
        (args.out / "results.md").write_text(_table(rows, summary))
    print(_table(rows, summarize(rows)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m evals.release_pairs``: exit 0 done, 2 bad input."""
    ap = argparse.ArgumentParser(prog="python -m evals.release_pairs", description=DESCRIBE)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("scan", "mine"):
        p = sub.add_parser(name)
        p.add_argument("package")
        p.add_argument("--pairs", type=int, default=6, help="the last K consecutive pairs")
        p.add_argument("--versions", nargs="+", default=None, help="explicit versions, oldest first")
        p.add_argument("--test-timeout", type=float, default=180.0, help="seconds per pytest run")
        if name == "mine":
            p.add_argument("--suite", type=Path, required=True, help="suite YAML to append to")
    p = sub.add_parser("run")
    p.add_argument("suite", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--only", nargs="+", default=None, help="task ids")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per loopwright run")
    p.add_argument("--fix-args", default="", help="extra `loopwright fix` arguments, one string "
                   "(e.g. '--max-seconds 180')")
    args = ap.parse_args(argv)
    return {"scan": _scan, "mine": _mine, "run": _run}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
