"""Run a suite: every (task, generator) job in its own clone and process, locally or on Ray.

Results stream to ``OUT/results.jsonl``, one line per job as it finishes (flushed and
fsynced), and each run's files to ``OUT/runs/<task>/<generator>/``. A rerun reads
``results.jsonl`` first and runs only the jobs not in it, so an interrupted eval resumes
where it stopped. Local runs use a process pool (``--jobs N``); ``--ray`` submits the
same :func:`evals.task.run_task` as Ray tasks, each declaring ``num_cpus``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

from evals.suite import Suite
from evals.task import error_row, run_task

__all__ = ["EvalError", "EvalRun", "job_key", "load_results", "make_jobs", "run_eval"]


class EvalError(Exception):
    """The eval cannot start (bad generator spec, no Ray, unreachable cluster); exit code 2."""


def job_key(task_id: str, generator: str) -> str:
    """The resume key of a job: ``TASK@GENERATOR``."""
    return f"{task_id}@{generator}"


def slug(text: str) -> str:
    """A file-name-safe form of a task id or generator spec."""
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", text)[:100]


def load_results(out: Path) -> list[dict]:
    """Rows already in ``OUT/results.jsonl`` (a line cut short by a kill is ignored)."""
    path = out / "results.jsonl"
    rows = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


def make_jobs(suite: Suite, generators: list[str], *, ship: bool) -> list[dict]:
    """One self-contained job per (task, generator).

    ``ship``: put ``path`` repositories in the job as ``git bundle`` bytes (for Ray workers,
    which must not read the driver's paths); local jobs clone the path directly.
    ``replay:DIR`` reads ``DIR/<task id>.jsonl`` (``replay:FILE`` that file) and ships its text.

    Raises:
        EvalError: a replay cassette is missing, or a path repository cannot be bundled.
    """
    bundles: dict[str, bytes] = {}
    jobs = []
    for task in suite.tasks:
        repo = task.repo.to_spec()
        bundle = None
        if ship and task.repo.path:
            bundle = bundles.get(task.repo.path) or _bundle(Path(task.repo.path))
            bundles[task.repo.path] = bundle
        for gen in generators:
            jobs.append({"key": job_key(task.id, gen), "task": task.model_dump(), "generator": gen,
                         "repo": repo, "bundle": bundle, "cassettes": _cassettes(gen, task.id)})
    return jobs


def _bundle(path: Path) -> bytes:
    with tempfile.TemporaryDirectory(prefix="lw-bundle-") as tmp:
        res = subprocess.run(["git", "-C", str(path), "bundle", "create", f"{tmp}/r.bundle", "HEAD"],
                             capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise EvalError(f"cannot bundle {path} for remote workers: {res.stderr.strip()} "
                            "(is it a git repository with a commit?)")
        return Path(f"{tmp}/r.bundle").read_bytes()


def _cassettes(generator: str, task_id: str) -> dict[str, str]:
    for part in generator.split(","):
        if part.startswith("replay:"):
            where = Path(part[len("replay:"):]).expanduser()
            path = where / f"{task_id}.jsonl" if where.is_dir() else where
            if not path.is_file():
                raise EvalError(f"generator {generator}: no cassette {path} for task {task_id} "
                                "(record one with `loopwright fix --record`, or drop the task)")
            return {"cassette": path.read_text(encoding="utf-8")}
    return {}


@dataclass
class EvalRun:
    """What :func:`run_eval` did: every row (old and new), how many ran now, and timings.

    ``wall_seconds``: the whole eval. ``busy_seconds``: wall seconds during which at least one
    job ran (the union of the jobs' start-end intervals). ``overhead_seconds`` = wall − busy:
    the eval's own time outside task runs (setup, scheduling, writing results).
    """

    rows: list[dict]
    ran: int
    skipped: int
    wall_seconds: float = 0.0
    busy_seconds: float = 0.0
    backend: str = "local"
    extra: dict = field(default_factory=dict)

    @property
    def overhead_seconds(self) -> float:
        """Wall seconds outside every task run."""
        return round(max(0.0, self.wall_seconds - self.busy_seconds), 3)


def run_eval(suite: Suite, generators: list[str], out: Path, *, jobs: int = 1, ray: bool = False,
             ray_address: str | None = None, num_cpus: float = 1.0,
             on_row: Callable[[dict], None] = lambda r: None) -> EvalRun:
    """Run every job of ``suite`` × ``generators`` not already in ``OUT/results.jsonl``.

    Args:
        jobs: local worker processes (ignored with ``ray``; Ray schedules by ``num_cpus``).
        ray: run on Ray: ``ray.init(address=ray_address)`` (None: a local instance).
        num_cpus: CPUs each Ray task declares.
        on_row: called in the driver with each finished row.

    Raises:
        EvalError: see :func:`make_jobs`; or ``ray`` without the ``ray`` package.
    """
    t0 = time.time()
    out = Path(out).resolve()  # task processes run with their clone as working directory
    out.mkdir(parents=True, exist_ok=True)
    old = load_results(out)
    done = {r["key"] for r in old}
    todo = [j for j in make_jobs(suite, generators, ship=ray) if j["key"] not in done]
    for j in todo:
        j["workdir"] = None if ray else str(out / "work")
    (out / "work").mkdir(exist_ok=True)
    rows = list(old)
    stream = _ray_rows(todo, ray_address, num_cpus) if ray else _local_rows(todo, jobs)
    with (out / "results.jsonl").open("a", encoding="utf-8") as fh:
        for row in stream:
            _save_files(out, row)
            fh.write(json.dumps(row, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            rows.append(row)
            on_row(row)
    try:
        (out / "work").rmdir()  # every task removes its own clone
    except OSError:
        pass
    new = rows[len(old):]
    run = EvalRun(rows, len(new), len(old), round(time.time() - t0, 3), _union([(r["started"], r["ended"]) for r in new]),
                  "ray" if ray else "local")
    return run


def _save_files(out: Path, row: dict) -> None:
    files = row.pop("files", {})
    run_dir = out / "runs" / slug(row["task_id"]) / slug(row["generator"])
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (run_dir / name).write_text(text, encoding="utf-8")
    row["run_dir"] = str(run_dir.relative_to(out))


def _union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return round(total, 3)


def _local_rows(todo: list[dict], jobs: int) -> Iterator[dict]:
    if not todo:
        return
    # fork where there is one: a spawned worker would re-import the whole CLI (seconds of overhead per
    # worker). Python forks every pool worker up front, before the pool's manager thread starts.
    method = "fork" if "fork" in get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=get_context(method)) as pool:
        job_of = {pool.submit(run_task, j): j for j in todo}
        pending = set(job_of)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                try:
                    yield fut.result()
                except Exception as exc:  # on purpose: a worker that died is its job's error row
                    yield error_row(job_of[fut], exc)


def _ray_rows(todo: list[dict], address: str | None, num_cpus: float) -> Iterator[dict]:
    try:
        import ray
    except ImportError:
        raise EvalError("--ray needs the ray package: pip install 'loopwright[ray]'") from None
    if not todo:
        return
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise EvalError(f"cannot connect to the Ray cluster at {address}: {exc}") from None
    try:
        remote = ray.remote(num_cpus=num_cpus, max_retries=0)(run_task)
        job_of = {remote.remote(j): j for j in todo}
        pending = list(job_of)
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            for ref in finished:
                try:
                    yield ray.get(ref)
                except Exception as exc:  # on purpose: a task Ray failed (worker lost) is its error row
                    yield error_row(job_of[ref], exc)
    finally:
        if started_here:
            ray.shutdown()
