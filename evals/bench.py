"""The benchmark: run ``loopwright fix`` on every task of a suite and print a table.

``python -m evals.bench [--suite evals/suites/default.json] [--limit N] [--jobs 1]
[--workdir DIR] [--json OUT] [--record-oracle DIR | --replay DIR]``

With ``--record-oracle``/``--replay`` it measures the prompt tokens of model-driven
fixes instead (``python -m evals.bench_replay``, see :mod:`evals.bench_replay`).

Each task (``{"library": "name==version", "seed": N}``) is prepared once with
:func:`evals.prepare.prepare_task` and cached in ``WORKDIR/tasks/``. Every run gets
its own shallow clone (only the buggy commit, so the injection is not in its
history) under ``WORKDIR/runs/<stamp>-<pid>/`` (benches started in the same second do not share it); ``loopwright fix CLONE --json`` runs as a
subprocess and its one JSON summary is read from stdout. A claimed fix is checked
independently: its patch is applied to the clone and the library's tests rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from rich.console import Console

from evals.bench_report import Row, figure, render, summarize
from evals.inject import is_test_path
from evals.prepare import prepare_task
from evals.sources import PrepareError, cache_root, run_process, run_tests

__all__ = ["Row", "ensure_prepared", "load_suite", "main", "run_task"]

ROOT = Path(__file__).resolve().parents[1]
HARNESS_CMD = [sys.executable, "-m", "loopwright", "fix"]
DEFAULT_SUITE = Path(__file__).resolve().parent / "suites" / "default.json"


def load_suite(path: Path) -> list[dict]:
    """Read a suite: a JSON list of ``{"library": "name==version", "seed": int}``.

    Raises:
        ValueError: unreadable JSON or a malformed entry (the message names it).
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read suite {path}: {exc}") from exc
    tasks = data.get("tasks") if isinstance(data, dict) else data
    if not isinstance(tasks, list):
        raise ValueError(f"{path}: expected a list of tasks")  # noqa: TRY004 (bad input)
    for i, t in enumerate(tasks):
        if not (isinstance(t, dict) and isinstance(t.get("library"), str)
                and "==" in t["library"] and isinstance(t.get("seed"), int)):
            raise ValueError(f"{path}: task {i} must be {{'library': 'name==version', "
                             f"'seed': int}}, got {t!r}")
    return tasks


def _slug(task: dict) -> str:
    name, _, version = task["library"].partition("==")
    return f"{name}-{version}-s{task['seed']}"


def ensure_prepared(task: dict, workdir: Path, cache_dir: Path | None = None) -> dict:
    """The task's TaskInfo dict, preparing it into ``WORKDIR/tasks/SLUG/repo`` if absent.

    Raises:
        PrepareError: preparation failed (see :func:`evals.prepare.prepare_task`).
    """
    slot = workdir / "tasks" / _slug(task)
    meta = slot / "task.json"
    if meta.is_file() and (slot / "repo" / ".git").is_dir():
        return json.loads(meta.read_text())
    tmp = workdir / "tasks" / f".{_slug(task)}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    info = prepare_task(task["library"], task["seed"], tmp / "repo", cache_dir=cache_dir)
    shutil.rmtree(slot, ignore_errors=True)
    tmp.rename(slot)
    data = info.to_dict() | {"repo": str(slot / "repo")}
    meta.write_text(json.dumps(data, indent=2) + "\n")
    return data


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


def _patch_files(patch: str) -> list[str]:
    files = []
    for line in patch.splitlines():
        if line.startswith(("+++ ", "--- ")):
            p = line[4:].split("\t")[0].strip()
            if p != "/dev/null":
                p = p[2:] if p[:2] in ("a/", "b/") else p
                if p not in files:
                    files.append(p)
    return files


def _verify(clone: Path, patch: str, timeout: float) -> tuple[bool, str]:
    """Apply the patch to the clone's clean tree and rerun the tests: (passed, note)."""
    if not patch.strip():
        return False, "fixed claimed with an empty patch"
    touched = [f for f in _patch_files(patch) if is_test_path(f)]
    if touched:
        return False, f"patch edits test files: {', '.join(touched)}"
    _git(clone, "checkout", "-q", "--", ".")
    res = subprocess.run(["git", "apply", "--whitespace=nowarn", "-"], cwd=clone, input=patch,
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        return False, f"patch does not apply to the task: {res.stderr.strip()[:200]}"
    run = run_tests(clone, timeout)
    if run.returncode == 0:
        return True, ""
    return False, ("tests hang after the patch" if run.timed_out
                   else f"{len(run.failed)} tests still fail after the patch")


def run_task(info: dict, run_dir: Path, timeout: float = 300.0, verify: bool = True,
             fix_args: list[str] | None = None, harness_cmd: list[str] | None = None,
             env: dict[str, str] | None = None) -> Row:
    """Clone a prepared task, run ``loopwright fix --json`` on it, and return its Row.

    Args:
        info: the TaskInfo dict from :func:`ensure_prepared`.
        run_dir: where the clone and the harness's stderr log go (created).
        timeout: wall seconds before the harness's process group is killed.
        verify: check a ``fixed`` claim independently (see :class:`Row`).
        fix_args: extra arguments for ``loopwright fix`` (e.g. ``--generator templates``).
        harness_cmd: the command before ``REPO --json`` (default
            ``[python, -m, loopwright, fix]``, run from the project root).
        env: extra environment variables for the harness (e.g. an API key).
    """
    row = Row(info["library"], info["version"], info["seed"], "error",
              bug=info.get("description", ""))
    run_dir.mkdir(parents=True, exist_ok=True)
    clone = run_dir / "repo"
    shutil.rmtree(clone, ignore_errors=True)
    _git(run_dir, "clone", "-q", "--depth", "1", Path(info["repo"]).as_uri(), str(clone))
    _git(clone, "config", "user.name", "loopwright-bench")
    _git(clone, "config", "user.email", "bench@loopwright.invalid")
    cmd = [*(harness_cmd or HARNESS_CMD), str(clone), "--json", *(fix_args or [])]
    t0 = time.monotonic()
    rc, out = _run_split(cmd, timeout, run_dir / "harness.stderr.log", env)
    row.bench_seconds = round(time.monotonic() - t0, 3)
    if rc is None:
        row.status, row.wall_seconds, row.note = "timeout", row.bench_seconds, \
            f"killed after {timeout:g}s"
        return row
    summary = _parse_summary(out)
    if summary is None:
        row.status, row.wall_seconds = "bad_output", row.bench_seconds
        row.note = f"exit {rc}, no JSON summary on stdout (see {run_dir}/harness.stderr.log)"
        return row
    row.status = str(summary.get("status", "error"))
    row.stop_reason = str(summary.get("stop_reason", "") or summary.get("error", ""))
    for key in ("wall_seconds", "test_seconds"):
        if isinstance(summary.get(key), (int, float)):
            setattr(row, key, float(summary[key]))
    for key in ("candidates_tried", "iterations", "exit_code"):
        if isinstance(summary.get(key), int):
            setattr(row, key, summary[key])
    row.run_id = str(summary.get("run_id", ""))
    if isinstance(summary.get("unprotected"), bool):
        row.unprotected = summary["unprotected"]
    if isinstance(summary.get("suspect"), str):
        row.suspect = summary["suspect"]
    if row.wall_seconds is None:
        row.wall_seconds = row.bench_seconds
    patch = row.patch = summary.get("patch") or ""
    row.patch_files = _patch_files(patch)
    if verify and row.status == "fixed":
        row.verified, row.note = _verify(clone, patch, min(timeout, 300.0))
    return row


def _run_split(cmd: list[str], timeout: float, err_log: Path,
               extra_env: dict[str, str] | None = None) -> tuple[int | None, str]:
    """Run the harness from the project root; stdout returned, stderr to ``err_log``."""
    with open(err_log, "w") as err:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | (extra_env or {})
        rc, out = run_process(cmd, ROOT, timeout, env, stderr=err)
    return rc, out


def _parse_summary(out: str) -> dict | None:
    text = out.strip()
    try:
        obj = json.loads(text)
        return obj if isinstance(obj, dict) else None
    except json.JSONDecodeError:
        pass
    dec = json.JSONDecoder()
    for i in [i for i, ch in enumerate(text) if ch == "{"][::-1][:200]:
        try:
            obj, end = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and "status" in obj and not text[end:].strip():
            return obj
    return None


def _parser() -> argparse.ArgumentParser:
    """The options of ``python -m evals.bench`` (and ``python -m evals.bench_replay``)."""
    ap = argparse.ArgumentParser(prog="python -m evals.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    ap.add_argument("--limit", type=int, default=None, help="run only the first N tasks")
    ap.add_argument("--jobs", type=int, default=1, help="tasks run at once")
    ap.add_argument("--workdir", type=Path, default=None, help="default ~/.cache/loopwright/bench")
    ap.add_argument("--json", type=Path, default=None, help="write rows and summary here")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per loopwright run")
    ap.add_argument("--fix-args", default="", help="extra `loopwright fix` args, one string")
    ap.add_argument("--no-verify", action="store_true", help="trust the harness's fixed claims")
    ap.add_argument("--prepare-only", action="store_true", help="prepare the tasks and stop")
    ap.add_argument("--record-oracle", type=Path, default=None, metavar="DIR",
                    help="record DIR/TASK.jsonl per task against a local OpenAI-format server "
                         "whose answers are the known fix (an oracle: this measures prompt size, "
                         "not model skill)")
    ap.add_argument("--replay", type=Path, default=None, metavar="DIR",
                    help="replay DIR's cassettes offline; report prompt tokens per request and per "
                         "fixed task next to the tokens of the whole files the prompts name")
    return ap


def _prepare_all(tasks: list[dict], workdir: Path, err: Console) -> list[tuple[str, dict | Row]]:
    """``(slug, TaskInfo dict)`` per task, prepared (or found) under ``workdir``; a task that
    cannot be prepared is a ``prepare_error`` :class:`Row` instead. Progress goes to ``err``."""
    items: list[tuple[str, dict | Row]] = []
    t0 = time.monotonic()
    for task in tasks:
        name, _, version = task["library"].partition("==")
        try:
            info = ensure_prepared(task, workdir)
            err.print(f"prepared {_slug(task)}: {info['description']}")
            items.append((_slug(task), info))
        except PrepareError as exc:
            err.print(f"[red]prepare failed[/] {_slug(task)}: {exc}")
            items.append((_slug(task), Row(name, version, task["seed"], "prepare_error",
                                           note=str(exc)[:200])))
    err.print(f"{len(tasks)} tasks ready in {time.monotonic() - t0:.1f}s ({workdir / 'tasks'})")
    return items


def main(argv: list[str] | None = None, replay_mode=None) -> int:
    """CLI entry point: exit 0 when the bench ran (whatever the fix rate), 2 on bad input;
    with --record-oracle, 1 when a recording did not end fixed.

    ``replay_mode(args, items, run_root, console, err) -> exit code`` runs
    ``--record-oracle``/``--replay``: those drive the harness's generators, so they
    live in :mod:`evals.bench_replay` (``python -m evals.bench_replay``)."""
    args = _parser().parse_args(argv)
    console, err = Console(), Console(stderr=True, soft_wrap=True)
    if not console.is_terminal:  # piped or redirected: do not squeeze the table into 80 columns
        console = Console(width=132)
    try:
        tasks = load_suite(args.suite)[: args.limit]
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}")
        return 2
    if args.jobs < 1:
        err.print("[red]error:[/] --jobs must be at least 1")
        return 2
    if (args.record_oracle or args.replay) and replay_mode is None:
        err.print("[red]error:[/] --record-oracle and --replay drive the harness's generators: run them as "
                  "python -m evals.bench_replay --record-oracle DIR / --replay DIR")
        return 2
    workdir = (args.workdir or cache_root() / "bench").expanduser().resolve()
    items = _prepare_all(tasks, workdir, err)
    if args.prepare_only:
        return 0
    run_root = workdir / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"  # runs at once: one each
    fix_args = shlex.split(args.fix_args)

    def one(item: tuple[str, dict | Row]) -> Row:
        slug, info = item
        if isinstance(info, Row):
            return info
        row = run_task(info, run_root / slug, args.timeout, not args.no_verify, fix_args)
        err.print(f"{row.library} {row.version} seed {row.seed}: {row.status} "
                  f"({figure(row.wall_seconds)}s)")
        return row

    if args.record_oracle or args.replay:
        return replay_mode(args, items, run_root, console, err)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(one, items))
    summary = summarize(rows)
    render(rows, summary, console)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"suite": str(args.suite), "runs": str(run_root),
                                         "summary": summary,
                                         "rows": [asdict(r) for r in rows]}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
