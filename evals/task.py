"""One eval task, start to end, in its own fresh clone and ``loopwright`` process.

:func:`run_task` is the unit of work both the local process pool and Ray execute: it
takes a plain, self-contained *job* dict (no driver paths: ``path`` repositories
arrive as ``git bundle`` bytes, replay cassettes as text) and returns a plain dict
(the result row plus the run's files), so it can run on any machine of a cluster.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from evals.materialize import materialize
from evals.sources import run_process
from evals.metrics import context_recall, run_metrics, same_as_gold
from harness.evaluators.pytest_runner import resolve_python

__all__ = ["ERROR_STATUSES", "TRACEBACK_FILE", "command_argv", "error_row", "run_task", "verify_pythonpath"]

RUN_FILES = ("state.json", "trajectory.jsonl", "patch.diff")
#: a row's ``status`` when the task could not be judged: preparing it failed, the eval's own code
#: raised, ``loopwright`` printed no summary, or the run itself ended in an error
ERROR_STATUSES = ("prepare_error", "error", "bad_output")
#: the traceback of an exception caught while preparing or running a task, in its run folder
TRACEBACK_FILE = "traceback.txt"


def command_argv(command: str, repo: Path, generator: str, python: str | None) -> list[str]:
    """``loopwright`` argv for a task command on ``repo`` with ``--json`` (and the generator).

    ``fix`` → ``fix REPO``; ``run LOOP`` → ``run LOOP REPO``; ``do TEXT`` → ``do TEXT REPO --yes``;
    ``review --comments F`` → ``review REPO --comments F``. ``generator`` ``default`` adds no option.
    """
    words = shlex.split(command)
    rest = words[1:]
    head = {"fix": ["fix", str(repo), *rest], "run": ["run", *rest[:1], str(repo), *rest[1:]],
            "do": ["do", " ".join(rest), str(repo), "--yes"], "review": ["review", str(repo), *rest]}[words[0]]
    argv = head + ["--json"]
    if generator != "default":
        argv += ["--generator", generator]
    if python:
        argv += ["--python", python]
    return argv


def run_task(job: dict) -> dict:
    """Run one job and return its result row (JSON-able) with the run's files.

    Args:
        job: ``{"key", "task": TaskSpec as dict, "generator": spec, "repo": repo spec dict,
            "bundle": bytes | None, "cassettes": {name: text}, "workdir": str | None}``.

    Returns:
        The result row (see README, "loopwright eval": status, metrics, ``started``/``ended``
        epoch seconds, ``task_seconds`` wall seconds of the whole job, ``harness_seconds`` of the
        ``loopwright`` process) plus ``files``: ``{name: text}`` of the run's state, trajectory,
        patch and cassette. Never raises for a task failure: any exception while preparing the
        task is a ``prepare_error`` row, one while running or judging it an ``error`` row; both
        carry ``error`` ("Type: message") and the traceback as the file :data:`TRACEBACK_FILE`.
    """
    started = time.time()
    task = job["task"]
    tmp = Path(tempfile.mkdtemp(prefix="lw-eval-", dir=job.get("workdir")))
    row: dict = {"key": job["key"], "task_id": task["id"], "generator": job["generator"],
                 "command": task["command"], "host": socket.gethostname(), "pid": os.getpid()}
    files: dict[str, str] = {}
    try:
        repo = _materialize(job, tmp, row, files)
        if repo is not None:
            _run(job, task, repo, tmp, row, files)
    except Exception as exc:  # on purpose: one task's failure is its row, the eval goes on
        row.update(status="error", fixed=False, error=_said(exc))
        files[TRACEBACK_FILE] = traceback.format_exc()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    row["started"], row["ended"] = round(started, 3), round(time.time(), 3)
    row["task_seconds"] = round(row["ended"] - started, 3)
    row["files"] = files
    return row


def error_row(job: dict, exc: BaseException | str, status: str = "error") -> dict:
    """The result row of a job that produced none (its worker died, or Ray failed it): ``status``,
    ``fixed`` False and ``error`` naming the exception; ``started``/``ended`` now (epoch seconds)."""
    now = round(time.time(), 3)
    return {"key": job["key"], "task_id": job["task"]["id"], "generator": job["generator"],
            "command": job["task"]["command"], "status": status, "fixed": False, "exit_code": None,
            "error": exc if isinstance(exc, str) else _said(exc), "started": now, "ended": now, "task_seconds": 0.0,
            "files": {}}


def _said(exc: BaseException) -> str:
    """``Type: message`` of an exception, its message's tail when long (the reason is usually last)."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= 2000 else text[:200] + " … " + text[-1800:]


def _materialize(job: dict, tmp: Path, row: dict, files: dict) -> Path | None:
    spec = dict(job["repo"])
    t0 = time.monotonic()
    try:
        if job.get("bundle") is not None:  # a path repository, shipped as a git bundle
            (tmp / "repo.bundle").write_bytes(job["bundle"])
            spec = {"bundle": str(tmp / "repo.bundle")}
        repo = materialize(spec, tmp / "repo")
    except Exception as exc:  # on purpose: any setup failure (issue 24) is this task's row
        row.update(status="prepare_error", fixed=False, exit_code=None, error=_said(exc))
        files[TRACEBACK_FILE] = traceback.format_exc()
        return None
    row["prepare_seconds"] = round(time.monotonic() - t0, 3)
    row["repo_source"] = next(iter(spec))  # path, bundle (shipped to a remote worker), prepare, release_pair
    return repo


def _run(job: dict, task: dict, repo: Path, tmp: Path, row: dict, files: dict) -> None:
    generator = _generator(job, tmp)
    cassette = tmp / "cassette.jsonl"
    argv = command_argv(task["command"], repo, generator, task.get("python"))
    if any(p.split(":")[0] in ("openai", "anthropic") for p in generator.split(",")):
        argv += ["--record", str(cassette)]  # the prompts and outputs, for --export-traces
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    t0 = time.monotonic()
    rc, out = run_process([sys.executable, "-m", "loopwright", *argv], repo, float(task["timeout"]), env,
                          stderr=subprocess.DEVNULL)
    row["harness_seconds"] = round(time.monotonic() - t0, 3)
    row["exit_code"] = rc
    summary = _summary(out)
    if rc is None:
        row.update(status="timeout", error=f"the task took longer than its timeout ({task['timeout']} s)")
    elif summary is None:
        row.update(status="bad_output", error=out[-2000:])
    else:
        row["status"] = summary.get("status") or "error"
        row["summary"] = {k: v for k, v in summary.items() if k != "patch"}
        # what judged the patches: a configured evaluator that could not run is "skipped: why"
        row["evaluators"] = summary.get("evaluators")
        if row["status"] == "error":  # the run's own reason (no tests collected, no pytest, ...)
            row["error"] = str(summary.get("error") or summary.get("stop_detail") or f"exit {rc}")[-2000:]
    run_dir = _run_dir(repo, (summary or {}).get("run_id"))
    for name in RUN_FILES:
        if run_dir is not None and (run_dir / name).is_file():
            files[name] = (run_dir / name).read_text(encoding="utf-8", errors="replace")
    if cassette.is_file() or "cassette" in job.get("cassettes", {}):
        files["cassette.jsonl"] = cassette.read_text() if cassette.is_file() else job["cassettes"]["cassette"]
    patch = (summary or {}).get("patch") or files.get("patch.diff", "")
    _injected_gold(repo, task)
    row.update(run_metrics(summary or {}, files.get("trajectory.jsonl", ""), files.get("state.json")))
    row["same_as_gold"] = same_as_gold(patch, task.get("gold_patch")) if task.get("gold_patch") else None
    row["context_recall"] = None
    if task.get("gold_patch") and task["command"].split()[0] == "fix" and run_dir is not None:
        row["context_recall"] = context_recall(repo, run_dir, task["gold_patch"])  # before the patch is applied
    row["fixed"] = row.get("status") in ("fixed", "done") and _verify(repo, patch, task, row)


def _injected_gold(repo: Path, task: dict) -> None:
    """For an injected-bug task without a gold patch: the injection's inverse (from
    ``.git/loopwright-task.json``, written by :func:`evals.materialize.materialize`)."""
    info_file = repo / ".git" / "loopwright-task.json"
    if info_file.is_file() and not task.get("gold_patch"):
        info = json.loads(info_file.read_text())
        task["gold_patch"] = (f"--- a/{info['file']}\n+++ b/{info['file']}\n@@ -{info['line']} +{info['line']} @@\n"
                              f"-{info['new_line']}\n+{info['old_line']}\n")


def _generator(job: dict, tmp: Path) -> str:
    """The generator spec with shipped replay cassettes written to ``tmp``."""
    parts = []
    for part in job["generator"].split(","):
        if part.startswith("replay:") and "cassette" in job.get("cassettes", {}):
            path = tmp / "replay.jsonl"
            path.write_text(job["cassettes"]["cassette"])
            part = f"replay:{path}"
        parts.append(part)
    return ",".join(parts)


def _summary(stdout: str) -> dict | None:
    """The ``--json`` summary: the first ``{`` at a line start to the end of stdout."""
    start = stdout.find("{") if stdout.startswith("{") else stdout.find("\n{")
    if start < 0:
        return None
    try:
        data = json.loads(stdout[start:])
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _run_dir(repo: Path, run_id: str | None) -> Path | None:
    """The run's folder: ``.git/loopwright/runs/ID`` (newer layout) or ``.loopwright/runs/ID``."""
    for base in (repo / ".git" / "loopwright" / "runs", repo / ".loopwright" / "runs"):
        if run_id and (base / run_id).is_dir():
            return base / run_id
        if not run_id and base.is_dir():  # no summary (timeout): the newest run
            found = sorted(p for p in base.iterdir() if p.is_dir())
            if found:
                return found[-1]
    return None


def _verify(repo: Path, patch: str, task: dict, row: dict) -> bool:
    """The run's patch applied to the clone makes the task's tests pass (for a ``fix`` task that lists
    none: the whole suite). Other commands without tests, or runs without a patch, are taken as claimed.

    The tests run as the run's test evaluator runs them (:mod:`harness.evaluators.pytest_runner`):
    the same target interpreter (:func:`~harness.evaluators.pytest_runner.resolve_python`: the task's
    ``python``, else ``REPO/.venv``, else this one) with the clone's root and its ``src/`` first on
    ``PYTHONPATH``, so a ``src/`` layout with an editable install tests the clone, not the checkout
    the install points at. When they fail, ``row["verify_error"]`` says why.
    """
    fix_task = task["command"].split()[0] == "fix"
    if not patch or not (task.get("tests") or fix_task):
        return True
    t0 = time.monotonic()
    res = subprocess.run(["git", "apply", "-"], input=patch, cwd=repo, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        row["verify_error"] = f"the patch does not apply to a clean clone: {res.stderr.strip()[:300]}"
        return False
    python = resolve_python(repo, task.get("python"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")} | {
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": verify_pythonpath(repo)}
    rc, out = run_process([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE",
                           *(task.get("tests") or [])], repo, float(task["timeout"]), env)
    row["verify_seconds"] = round(time.monotonic() - t0, 3)
    if rc != 0:
        failed = [ln for ln in out.splitlines() if ln.startswith(("FAILED ", "ERROR "))]
        what = "; ".join(failed[:3]) if failed else out.strip()[-300:]
        row["verify_error"] = (f"the task's tests fail with the patch in {python} (exit {rc}): {what}"
                               if rc is not None else f"the task's tests timed out with the patch ({task['timeout']} s)")
    return rc == 0


def verify_pythonpath(repo: Path) -> str:
    """``PYTHONPATH`` of the eval's verification: ``REPO``, ``REPO/src`` when it exists, then the
    caller's own ``PYTHONPATH`` (the order :mod:`harness.evaluators.pytest_runner` uses)."""
    parts = [str(repo)] + ([str(repo / "src")] if (repo / "src").is_dir() else [])
    return os.pathsep.join(parts + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
