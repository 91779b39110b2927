"""Prepare one reproducible single-bug benchmark task from a real library's sdist.

``python -m evals.prepare NAME==VERSION --seed N --out DIR`` downloads the sdist
(``pip download --no-deps --no-binary NAME``, cached under
``~/.cache/loopwright/sdists``), unpacks it into DIR, commits it with a fixed
author, committer and dates, checks that the library's own tests pass, injects
one seeded bug with :mod:`evals.inject` in a line those tests execute, commits it
("inject bug") and checks that at least one test now fails without hanging.

The source may also be a local sdist archive (``.tar.gz``, ``.tgz``, ``.zip``) or
a directory, which is how the tests work offline. Same source and seed give the
same files and the same commit ids.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from evals.inject import InjectError, apply_site, choose_sites
from evals.sources import (BadInput, PrepareError, TestRun, cache_root, executed_lines, fetch_sdist, run_git,
                           run_tests, unpack)

__all__ = ["TaskInfo", "prepare_task"]

BUG_DATE = "2000-01-01T01:00:00+0000"


@dataclass
class TaskInfo:
    """What :func:`prepare_task` did (all paths absolute, times in wall seconds).

    ``file``/``line`` locate the injected bug (repo-relative posix path, 1-based);
    ``failing_tests`` counts tests failing after injection, ``failing_test_ids``
    lists them; ``attempts`` is how many seed-ordered mutants were tried.
    """

    library: str
    version: str
    seed: int
    source: str
    repo: str
    file: str
    line: int
    kind: str
    description: str
    old_line: str
    new_line: str
    failing_tests: int
    failing_test_ids: list[str]
    base_commit: str
    bug_commit: str
    attempts: int
    baseline_seconds: float
    prepare_seconds: float

    def to_dict(self) -> dict:
        """Plain JSON-able dict."""
        return asdict(self)


# -- sources --------------------------------------------------------------------------------
def _parse_spec(spec: str) -> tuple[str, str, Path | None]:
    """``name==version`` -> (name, version, None); a local path -> (name, version, path)."""
    path = Path(spec).expanduser()
    if path.exists():
        path = path.resolve()
        name, version = _local_name_version(path)
        return name, version, path
    m = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([A-Za-z0-9.+!_-]+)\s*", spec)
    if not m:
        raise BadInput(f"bad library spec {spec!r}: expected NAME==VERSION or a local "
                       "sdist archive or directory")
    return m.group(1), m.group(2), None


def _local_name_version(path: Path) -> tuple[str, str]:
    stem = re.sub(r"\.(tar\.gz|tgz|tar\.bz2|tar|zip)$", "", path.name)
    pkg = path / "PKG-INFO"
    if path.is_dir() and pkg.is_file():
        meta = dict(re.findall(r"^(Name|Version):\s*(\S+)", pkg.read_text("utf-8", "replace"),
                               re.MULTILINE))
        if "Name" in meta and "Version" in meta:
            return meta["Name"], meta["Version"]
    name, _, version = stem.rpartition("-")
    return (name, version) if name and version[:1].isdigit() else (stem, "0")


# -- the task -------------------------------------------------------------------------------
# Over 60 lines for its docstring (the code is 40): the preparation's steps read in order.
def prepare_task(spec: str, seed: int, out_dir: str | Path, *, cache_dir: Path | None = None,
                 test_timeout: float = 300.0, mutant_timeout: float = 60.0,
                 max_attempts: int = 30, log=None) -> TaskInfo:
    """Build one single-bug task repository.

    Args:
        spec: ``NAME==VERSION`` (from PyPI), or a local sdist archive or directory.
        seed: orders the candidate mutants (see :func:`evals.inject.choose_sites`).
        out_dir: the repository to create; must not exist or be empty.
        cache_dir: sdist and coverage cache root (default :func:`cache_root`).
        test_timeout: wall seconds for the baseline (and coverage) test run.
        mutant_timeout: wall seconds for each mutant's test run; a mutant that hits it
            is rejected as hanging and the next one is tried.
        max_attempts: mutants tried before giving up.
        log: optional ``callable(str)`` for progress lines.

    Returns:
        A :class:`TaskInfo`; the repo has two commits (the sdist, then "inject bug")
        and a clean working tree.

    Raises:
        PrepareError: download, unpack or git failed, the pristine tests do not pass,
            or no mutant among ``max_attempts`` made a test fail without hanging.
    """
    say = log or (lambda _msg: None)
    t_start = time.monotonic()
    cache = Path(cache_dir) if cache_dir else cache_root()
    name, version, local = _parse_spec(spec)
    repo = Path(out_dir).resolve()
    if repo.exists() and any(repo.iterdir()):
        raise BadInput(f"{repo} exists and is not empty; choose another --out or remove it")
    base = _commit_sdist(local or fetch_sdist(name, version, cache), repo, f"{name} {version}")
    say(f"{name} {version}: unpacked into {repo} ({base[:12]})")
    say("running its tests before injecting a bug…")
    baseline = run_tests(repo, test_timeout, stop_first=True)
    if baseline.returncode != 0:
        why = "timed out" if baseline.timed_out else f"exit {baseline.returncode}"
        raise PrepareError(f"{name} {version}: its tests do not pass before injection ({why}):"
                           f"\n{baseline.output[-3000:]}")
    say(f"tests pass ({baseline.seconds:.1f}s); recording which lines they execute (coverage)…")
    executed = executed_lines(repo, base, cache, test_timeout * 3)

    modules = {rel: (repo / rel).read_bytes() for rel in sorted(executed)}
    sites = choose_sites(modules, executed, seed)
    if not sites:
        raise PrepareError(f"{name} {version}: no injection site in code the tests execute")
    for attempt, site in enumerate(sites[:max_attempts], start=1):
        path, original = repo / site.path, modules[site.path]
        run = _try_mutant(repo, site, original, f"try {attempt}", mutant_timeout, say)
        if run is None:
            continue
        run_git(repo, "add", "--", site.path, date=BUG_DATE)
        run_git(repo, "commit", "-q", "--no-verify", "-m", "inject bug", date=BUG_DATE)
        run_git(repo, "clean", "-q", "-f", "-d", "-x")
        old_line = original.splitlines()[site.line - 1].decode("utf-8", "replace")
        new_line = path.read_bytes().splitlines()[site.line - 1].decode("utf-8", "replace")
        return TaskInfo(name, version, seed, spec, str(repo), site.path, site.line, site.kind,
                        site.description, old_line, new_line, len(run.failed), run.failed,
                        base, run_git(repo, "rev-parse", "HEAD"), attempt,
                        round(baseline.seconds, 3), round(time.monotonic() - t_start, 3))
    raise PrepareError(f"{name} {version} seed {seed}: none of {min(len(sites), max_attempts)} "
                       "mutants made a test fail without hanging")


def _commit_sdist(source: Path, repo: Path, what: str) -> str:
    """Unpack ``source`` into ``repo`` (created), commit it as ``WHAT (sdist, unmodified)`` with
    the fixed identity and date; the commit id.

    Raises:
        PrepareError: unpacking or git failed.
    """
    repo.mkdir(parents=True, exist_ok=True)
    unpack(source, repo)
    run_git(repo, "init", "-q", "-b", "main", "--template=")
    run_git(repo, "add", "-A", "-f")
    run_git(repo, "commit", "-q", "--no-verify", "-m", f"{what} (sdist, unmodified)")
    return run_git(repo, "rev-parse", "HEAD")


def _try_mutant(repo: Path, site, original: bytes, label: str, timeout: float, say) -> TestRun | None:
    """Write ``site``'s mutant of ``original`` and run the tests (``timeout`` wall seconds): the
    run when it exits 1 with failing tests, else None with the file restored (``say`` tells why)."""
    path = repo / site.path
    try:
        path.write_bytes(apply_site(original, site))
    except InjectError as exc:
        say(f"{label}: skipped: {exc}")
        return None
    run = run_tests(repo, timeout)
    ok = run.returncode == 1 and bool(run.failed)
    say(f"{label}: {site.description}: " + (
        "hangs" if run.timed_out else f"{len(run.failed)} failing" if ok
        else f"rejected (exit {run.returncode}, {len(run.failed)} failing)"))
    if not ok:
        path.write_bytes(original)
        return None
    return run


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; exit 0 prepared, 1 no usable mutant or tests broken, 2 bad input."""
    ap = argparse.ArgumentParser(prog="python -m evals.prepare", description=__doc__.split("\n")[0])
    ap.add_argument("spec", help="NAME==VERSION, or a local sdist archive or source directory")
    ap.add_argument("--seed", type=int, required=True, help="mutant order seed")
    ap.add_argument("--out", required=True, help="repository to create (absent or empty)")
    ap.add_argument("--force", action="store_true", help="remove --out first if it exists")
    ap.add_argument("--cache-dir", type=Path, default=None, help="default ~/.cache/loopwright")
    ap.add_argument("--mutant-timeout", type=float, default=60.0, help="seconds per mutant run")
    ap.add_argument("--json", action="store_true", help="print the TaskInfo as JSON")
    args = ap.parse_args(argv)
    if args.force and Path(args.out).exists():
        shutil.rmtree(args.out)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731 - progress, also with --json
    try:
        info = prepare_task(args.spec, args.seed, args.out, cache_dir=args.cache_dir,
                            mutant_timeout=args.mutant_timeout, log=log)
    except PrepareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, BadInput) else 1
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
    else:
        for key in ("library", "version", "seed", "repo", "file", "line", "description",
                    "old_line", "new_line", "failing_tests", "base_commit", "bug_commit",
                    "attempts", "prepare_seconds"):
            print(f"{key:>15}: {getattr(info, key)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
