"""A suite task's ``repo`` entry made into a fresh git repository (:func:`materialize`).

The top of the benchmark modules: it dispatches to :mod:`evals.prepare` (injected bugs)
and :mod:`evals.release_trees` (release pairs), which never import it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from evals.prepare import prepare_task
from evals.sources import BadInput, PrepareError, cache_root, clean_env

__all__ = ["materialize"]


def materialize(repo_spec: dict, out: Path) -> Path:
    """Turn a suite task's ``repo`` entry into a fresh git repository at ``out`` (absent or empty).

    ``{"path": DIR}``: a clone of DIR's HEAD. ``{"bundle": FILE}``: a clone of a ``git
    bundle`` (how repositories travel to remote eval workers). ``{"prepare": {"spec",
    "seed"}}``: :func:`prepare_task` once into ``cache_root()/tasks`` (file-locked), then a
    depth-1 clone of the buggy commit, so the injection is not in the clone's history; its
    :class:`TaskInfo` is copied to ``out/.git/loopwright-task.json``.
    ``{"release_pair": {...}}``: ``evals.release_trees.materialize(spec, out)``.

    Raises:
        BadInput: not exactly one known key, or no ``evals.release_trees`` module.
        PrepareError: the clone or the preparation failed.
    """
    import fcntl

    out = Path(out)
    kinds = [k for k in ("path", "bundle", "prepare", "release_pair") if k in repo_spec]
    if len(kinds) != 1:
        raise BadInput(f"repo spec {repo_spec!r}: give exactly one of path, prepare, release_pair")
    kind, value = kinds[0], repo_spec[kinds[0]]
    if kind == "release_pair":
        try:
            from evals import release_trees
        except ImportError:
            raise BadInput("release_pair tasks need evals.release_trees (the release-pair task builder), "
                           "which this installation does not have; use path or prepare tasks") from None
        return Path(release_trees.materialize(value, out))
    source, depth = str(value), []
    if kind == "prepare":
        slot = cache_root() / "tasks" / re.sub(r"[^A-Za-z0-9._=-]+", "_", f"{value['spec']}-seed{value['seed']}")
        slot.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{slot}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent workers prepare a task once
            done = Path(f"{slot}.json")  # written last: a half-prepared slot is redone
            if not done.is_file():
                shutil.rmtree(slot, ignore_errors=True)
                done.write_text(json.dumps(prepare_task(value["spec"], int(value["seed"]), slot).to_dict()))
        source, depth = f"file://{slot}", ["--depth", "1"]
    elif not Path(source).exists():
        raise BadInput(f"repo {kind} {source} does not exist (check the suite file)")
    res = subprocess.run(["git", "clone", "-q", *depth, "--", source, str(out)], capture_output=True,
                         text=True, check=False, env=clean_env() | {"GIT_TERMINAL_PROMPT": "0"})
    if res.returncode != 0:
        raise PrepareError(f"git clone {source} failed: {res.stderr.strip()[-1000:]}")
    if kind == "prepare":  # what was injected, for the eval's gold patch (untracked, inside .git)
        shutil.copy(done, out / ".git" / "loopwright-task.json")
    return out
