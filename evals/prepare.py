"""Prepare one reproducible single-bug benchmark task from a real library's sdist.

``python -m evals.prepare NAME==VERSION --seed N --out DIR`` downloads the sdist
(``pip download --no-deps --no-binary :all:``, cached under
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
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from evals.addopts import addopts_without_cov
from evals.inject import InjectError, apply_site, choose_sites, is_test_path

__all__ = ["BadInput", "PrepareError", "TaskInfo", "TestRun", "cache_root", "materialize",
           "prepare_task", "run_process", "run_tests"]

GIT_NAME, GIT_EMAIL = "loopwright-evals", "evals@loopwright.invalid"
BASE_DATE, BUG_DATE = "2000-01-01T00:00:00+0000", "2000-01-01T01:00:00+0000"
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider"]
_DROP_ENV = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_CURRENT_TEST", "PYTHONPATH",
             "COVERAGE_FILE", "COVERAGE_PROCESS_START", "COVERAGE_RCFILE")


class PrepareError(RuntimeError):
    """A task could not be prepared; the message says which step failed and why."""


class BadInput(PrepareError):
    """The spec or the output folder is unusable (CLI exit code 2)."""


@dataclass
class TestRun:
    """One pytest process: ``returncode`` is None when it was killed at the timeout."""

    returncode: int | None
    seconds: float
    output: str
    failed: list[str] = field(default_factory=list)

    @property
    def timed_out(self) -> bool:
        """True when the process group was killed at the timeout."""
        return self.returncode is None


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


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/loopwright`` (default ``~/.cache/loopwright``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "loopwright"


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


def fetch_sdist(name: str, version: str, cache: Path) -> Path:
    """Return the cached sdist of ``name==version``, downloading it with pip if absent.

    Raises:
        PrepareError: pip failed (no such release, no sdist, registry unreachable).
    """
    slot = cache / "sdists" / f"{re.sub(r'[-_.]+', '-', name).lower()}-{version}"
    found = sorted(p for p in slot.glob("*") if p.is_file()) if slot.is_dir() else []
    if found:
        return found[0]
    slot.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".dl-", dir=slot.parent))
    try:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "-q", "-d", str(tmp), f"{name}=={version}"]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        files = sorted(tmp.glob("*"))
        if res.returncode != 0 or len(files) != 1:
            raise PrepareError(f"pip download of {name}=={version} failed "
                               f"(exit {res.returncode}):\n{res.stderr.strip()[-2000:]}")
        try:
            tmp.rename(slot)
        except OSError:  # another process won the race: use its copy
            shutil.rmtree(tmp, ignore_errors=True)
        return min(slot.glob("*"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_names(source: Path, names: list[str]) -> None:
    for name in names:
        if name.startswith("/") or ".." in Path(name).parts:
            raise PrepareError(f"{source}: unsafe path in archive: {name}")


def unpack(source: Path, dest: Path) -> None:
    """Put a source tree into the empty folder ``dest``, stripping an sdist's top folder.

    Raises:
        PrepareError: unknown archive type, or an unsafe member path.
    """
    if source.is_dir():
        shutil.copytree(source, dest, dirs_exist_ok=True, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", "__pycache__", "*.pyc",
                                                      ".pytest_cache"))
        return
    with tempfile.TemporaryDirectory(prefix="lw-unpack-") as tmp:
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as zf:
                _check_names(source, zf.namelist())
                zf.extractall(tmp)
        elif tarfile.is_tarfile(source):
            with tarfile.open(source) as tf:
                _check_names(source, tf.getnames())
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tf.extractall(tmp, **safe)  # names checked above
        else:
            raise PrepareError(f"{source}: not a tar or zip archive")
        entries = list(Path(tmp).iterdir())
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else Path(tmp)
        for entry in sorted(root.iterdir()):
            shutil.move(str(entry), dest / entry.name)


# -- processes ------------------------------------------------------------------------------
def _git(repo: Path, *args: str, date: str = BASE_DATE) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
               GIT_AUTHOR_NAME=GIT_NAME, GIT_AUTHOR_EMAIL=GIT_EMAIL, GIT_AUTHOR_DATE=date,
               GIT_COMMITTER_NAME=GIT_NAME, GIT_COMMITTER_EMAIL=GIT_EMAIL,
               GIT_COMMITTER_DATE=date)
    res = subprocess.run(["git", "-c", "core.autocrlf=false", "-c", "commit.gpgsign=false", *args],
                         cwd=repo, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise PrepareError(f"git {' '.join(args)} failed in {repo}: {res.stderr.strip()}")
    return res.stdout.strip()


def _test_env(repo: Path | None = None) -> dict[str, str]:
    """The tests' environment: ours without pytest/coverage settings; for a src layout
    (``REPO/src/``), ``src`` on ``PYTHONPATH`` so the package imports without being
    installed (loopwright's test evaluator does the same)."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
    if repo is not None and (repo / "src").is_dir():
        env["PYTHONPATH"] = str(repo / "src")
    return env


def _pytest_args(repo: Path) -> list[str]:
    """``python -m pytest`` arguments for ``repo``: ours, and its addopts without --cov."""
    opts = addopts_without_cov(repo)
    return [*PYTEST, *(["-o", f"addopts={opts}"] if opts is not None else [])]


def run_process(cmd: list[str], cwd: Path, timeout: float, env: dict[str, str],
                stderr=subprocess.STDOUT) -> tuple[int | None, str]:
    """Run ``cmd`` in a new process group and return (returncode, stdout text).

    ``stderr`` goes to stdout by default (or to a given file object). At ``timeout``
    wall seconds the whole process group is killed and the returncode is None.
    """
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=stderr, stdin=subprocess.DEVNULL, text=True,
                            errors="replace", start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out


def run_tests(repo: Path, timeout: float, *, stop_first: bool = False) -> TestRun:
    """Run the repo's pytest suite with the current interpreter.

    Args:
        repo: the folder to run ``python -m pytest -q -p no:cacheprovider`` in.
        timeout: wall seconds before the process group is killed.
        stop_first: add ``-x`` (stop at the first failure).

    Returns:
        A :class:`TestRun`; ``failed`` holds ``classname::name`` of failing or erroring
        test cases (from a JUnit XML report).
    """
    with tempfile.TemporaryDirectory(prefix="lw-junit-") as tmp:
        junit = Path(tmp) / "junit.xml"
        cmd = [sys.executable, *_pytest_args(repo), f"--junitxml={junit}"] + (["-x"] if stop_first else [])
        t0 = time.monotonic()
        rc, out = run_process(cmd, repo, timeout, _test_env(repo))
        seconds = time.monotonic() - t0
        failed = []
        if junit.is_file():
            try:
                for case in ET.parse(junit).getroot().iter("testcase"):
                    if case.find("failure") is not None or case.find("error") is not None:
                        failed.append(f"{case.get('classname', '')}::{case.get('name', '')}")
            except ET.ParseError:
                pass
    return TestRun(rc, seconds, out, sorted(set(failed)))


def executed_lines(repo: Path, key: str, cache: Path, timeout: float) -> dict[str, set[int]]:
    """Lines of non-test modules executed by the repo's tests: repo-relative path -> lines.

    Runs the suite once under coverage.py (ignoring the project's coverage config) and
    caches the result in ``cache/coverage/KEY-pyXY.json``; KEY should identify the
    tree exactly (the base commit id does).

    Raises:
        PrepareError: the coverage run recorded nothing (it crashed or timed out).
    """
    import coverage

    slot = cache / "coverage" / f"{key}-py{sys.version_info[0]}{sys.version_info[1]}.json"
    if slot.is_file():
        return {p: set(ls) for p, ls in json.loads(slot.read_text()).items()}
    root = Path(os.path.realpath(repo))
    with tempfile.TemporaryDirectory(prefix="lw-cov-") as tmp:
        rc_file, data_file = Path(tmp) / "empty.rc", Path(tmp) / ".coverage"
        rc_file.write_text("")
        env = _test_env(repo) | {"COVERAGE_FILE": str(data_file)}
        cmd = [sys.executable, "-m", "coverage", "run", f"--rcfile={rc_file}",
               f"--source={root}", *_pytest_args(repo)]
        rc, out = run_process(cmd, repo, timeout, env)
        if not data_file.is_file():
            raise PrepareError(f"coverage run in {repo} recorded nothing (exit {rc}):\n"
                               f"{out[-2000:]}")
        data = coverage.CoverageData(basename=str(data_file))
        data.read()
        result: dict[str, set[int]] = {}
        for f in data.measured_files():
            try:
                rel = Path(os.path.realpath(f)).relative_to(root).as_posix()
            except ValueError:
                continue
            if rel.endswith(".py") and not is_test_path(rel):
                result[rel] = set(data.lines(f) or ())
    slot.parent.mkdir(parents=True, exist_ok=True)
    slot.write_text(json.dumps({p: sorted(ls) for p, ls in sorted(result.items())}))
    return result


# -- the task -------------------------------------------------------------------------------
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
    source = local or fetch_sdist(name, version, cache)
    repo.mkdir(parents=True, exist_ok=True)
    unpack(source, repo)
    _git(repo, "init", "-q", "-b", "main", "--template=")
    _git(repo, "add", "-A", "-f")
    _git(repo, "commit", "-q", "--no-verify", "-m", f"{name} {version} (sdist, unmodified)")
    base = _git(repo, "rev-parse", "HEAD")
    say(f"{name} {version}: unpacked into {repo} ({base[:12]})")

    say("running its tests before injecting a bug…")
    baseline = run_tests(repo, test_timeout, stop_first=True)
    if baseline.returncode != 0:
        why = "timed out" if baseline.timed_out else f"exit {baseline.returncode}"
        raise PrepareError(f"{name} {version}: its tests do not pass before injection ({why}):"
                           f"\n{baseline.output[-3000:]}")
    say(f"tests pass ({baseline.seconds:.1f}s); recording which lines they execute (coverage)…")
    executed = executed_lines(repo, base, cache, test_timeout * 3)

    modules = {}
    for rel in sorted(executed):
        modules[rel] = (repo / rel).read_bytes()
    sites = choose_sites(modules, executed, seed)
    if not sites:
        raise PrepareError(f"{name} {version}: no injection site in code the tests execute")
    for attempt, site in enumerate(sites[:max_attempts], start=1):
        path = repo / site.path
        original = modules[site.path]
        try:
            path.write_bytes(apply_site(original, site))
        except InjectError as exc:
            say(f"try {attempt}: skipped: {exc}")
            continue
        run = run_tests(repo, mutant_timeout)
        ok = run.returncode == 1 and bool(run.failed)
        say(f"try {attempt}: {site.description}: " + (
            "hangs" if run.timed_out else f"{len(run.failed)} failing" if ok
            else f"rejected (exit {run.returncode}, {len(run.failed)} failing)"))
        if not ok:
            path.write_bytes(original)
            continue
        _git(repo, "add", "--", site.path, date=BUG_DATE)
        _git(repo, "commit", "-q", "--no-verify", "-m", "inject bug", date=BUG_DATE)
        _git(repo, "clean", "-q", "-f", "-d", "-x")
        old_line = original.splitlines()[site.line - 1].decode("utf-8", "replace")
        new_line = path.read_bytes().splitlines()[site.line - 1].decode("utf-8", "replace")
        return TaskInfo(name, version, seed, spec, str(repo), site.path, site.line, site.kind,
                        site.description, old_line, new_line, len(run.failed), run.failed,
                        base, _git(repo, "rev-parse", "HEAD"), attempt,
                        round(baseline.seconds, 3), round(time.monotonic() - t_start, 3))
    raise PrepareError(f"{name} {version} seed {seed}: none of {min(len(sites), max_attempts)} "
                       "mutants made a test fail without hanging")


def materialize(repo_spec: dict, out: Path) -> Path:
    """Turn a suite task's ``repo`` entry into a fresh git repository at ``out`` (absent or empty).

    ``{"path": DIR}``: a clone of DIR's HEAD. ``{"bundle": FILE}``: a clone of a ``git
    bundle`` (how repositories travel to remote eval workers). ``{"prepare": {"spec",
    "seed"}}``: :func:`prepare_task` once into ``cache_root()/tasks`` (file-locked), then a
    depth-1 clone of the buggy commit, so the injection is not in the clone's history; its
    :class:`TaskInfo` is copied to ``out/.git/loopwright-task.json``.
    ``{"release_pair": {...}}``: ``evals.release_pairs.materialize(spec, out)``.

    Raises:
        BadInput: not exactly one known key, or no ``evals.release_pairs`` module.
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
            from evals import release_pairs
        except ImportError:
            raise BadInput("release_pair tasks need evals.release_pairs (the release-pair miner), "
                           "which this installation does not have; use path or prepare tasks") from None
        return Path(release_pairs.materialize(value, out))
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
                         text=True, check=False, env=_test_env() | {"GIT_TERMINAL_PROMPT": "0"})
    if res.returncode != 0:
        raise PrepareError(f"git clone {source} failed: {res.stderr.strip()[-1000:]}")
    if kind == "prepare":  # what was injected, for the eval's gold patch (untracked, inside .git)
        shutil.copy(done, out / ".git" / "loopwright-task.json")
    return out


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
