"""Library sources and their test runs, shared by the benchmarks (:mod:`evals.prepare`,
:mod:`evals.bench`, the release pairs).

Fetching a release's sdist (``pip download --no-deps --no-binary NAME``, cached under
``~/.cache/loopwright/sdists``) and unpacking it safely; git with a fixed author,
committer and date (same tree, same commit ids); the tests' clean environment; running
a process group with a deadline; running a repository's pytest suite (failures from a
JUnit report) and the lines its tests execute (coverage.py, cached).
"""

from __future__ import annotations

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
from dataclasses import dataclass, field
from pathlib import Path

from harness.evaluators.addopts import plain_addopts
from evals.inject import is_test_path

GIT_NAME, GIT_EMAIL = "loopwright-evals", "evals@loopwright.invalid"
BASE_DATE = "2000-01-01T00:00:00+0000"
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


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/loopwright`` (default ``~/.cache/loopwright``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "loopwright"


def cache_dir(cache: Path | None) -> Path:
    """``cache`` when given (tests pass a temporary one), else :func:`cache_root`."""
    return Path(cache) if cache else cache_root()


def text_or_none(path: Path) -> str | None:
    """The UTF-8 text of ``path``, or None when it cannot be read or decoded."""
    try:
        return path.read_text("utf-8")
    except (UnicodeDecodeError, OSError):
        return None


# -- sources --------------------------------------------------------------------------------
def fetch_sdist(name: str, version: str, cache: Path) -> Path:
    """Return the cached sdist of ``name==version``, downloading it with pip if absent.

    Raises:
        PrepareError: pip failed (no such release, no sdist, registry unreachable) or did not finish in 600 s.
    """
    slot = cache / "sdists" / f"{re.sub(r'[-_.]+', '-', name).lower()}-{version}"
    found = sorted(p for p in slot.glob("*") if p.is_file()) if slot.is_dir() else []
    if found:
        return found[0]
    slot.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".dl-", dir=slot.parent))
    try:
        # --no-binary NAME, not :all: (which pip applies to the isolated build's requirements too,
        # building setuptools from source: minutes per download)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", name,
               "-q", "-d", str(tmp), f"{name}=={version}"]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        except subprocess.TimeoutExpired:
            raise PrepareError(f"pip download of {name}=={version} did not finish in 600 s "
                               "(a slow index or an sdist whose build takes that long); try again") from None
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
def run_git(repo: Path, *args: str, date: str = BASE_DATE) -> str:
    """``git ARGS`` in ``repo`` with a fixed author, committer and ``date`` and no user or
    system config, so the same tree gives the same commit ids; returns stdout, stripped.

    Raises:
        PrepareError: git failed (its stderr in the message).
    """
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


def clean_env(repo: Path | None = None) -> dict[str, str]:
    """The tests' environment: ours without pytest/coverage settings; for a src layout
    (``REPO/src/``), ``src`` on ``PYTHONPATH`` so the package imports without being
    installed (loopwright's test evaluator does the same)."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
    if repo is not None and (repo / "src").is_dir():
        env["PYTHONPATH"] = str(repo / "src")
    return env


def pytest_args(repo: Path) -> list[str]:
    """``python -m pytest`` arguments for ``repo``: ours, and its addopts without --cov."""
    opts = plain_addopts(repo)
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
        cmd = [sys.executable, *pytest_args(repo), f"--junitxml={junit}"] + (["-x"] if stop_first else [])
        t0 = time.monotonic()
        rc, out = run_process(cmd, repo, timeout, clean_env(repo))
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
        env = clean_env(repo) | {"COVERAGE_FILE": str(data_file)}
        cmd = [sys.executable, "-m", "coverage", "run", f"--rcfile={rc_file}",
               f"--source={root}", *pytest_args(repo)]
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
