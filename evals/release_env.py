"""The interpreter of a release-pair task: a shared venv with the requirements its tests need,
and a pytest run that reports failing node ids. Used by :mod:`evals.release_trees` and :mod:`evals.release_mine`."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from evals.sources import PrepareError, cache_dir, clean_env, run_process, text_or_none

__all__ = ["TEST_EXTRAS", "PairError", "ensure_venv", "requirements", "run_pytest", "test_requirements",
           "venv_slot"]

TEST_EXTRAS = ("test", "tests", "testing")
_ADDOPTS_PLUGINS = {"--cov": "pytest-cov", "--timeout": "pytest-timeout"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SUMMARY = re.compile(r"^(FAILED|ERROR) (\S.*?)(?: - .*)?$")


class PairError(PrepareError):
    """A release pair cannot be mined or a task cannot be built; the message says why."""


def requirements(tree: Path) -> list[str]:
    """pytest, coverage, and the runtime + test-extra requirements the sdist declares.

    Declared requirements come from PKG-INFO's ``Requires-Dist`` lines, or, for older
    sdists whose PKG-INFO has none, from ``*.egg-info/requires.txt`` (setuptools' format:
    ``[extra]``/``[:marker]`` sections). Markers are evaluated for this interpreter with
    ``extra`` set to "" and each of :data:`TEST_EXTRAS` (``packaging``, which pytest
    depends on, does the parsing). Plugins that the pytest configuration's options need
    (``--cov`` -> pytest-cov, ``--timeout`` -> pytest-timeout) and mypy when the project
    configures it are added: a developer's setup has them.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    reqs = {"pytest", "coverage"}
    config = " ".join(text_or_none(tree / name) or "" for name in ("pyproject.toml", "setup.cfg", "tox.ini",
                                                            "pytest.ini"))
    reqs |= {plugin for option, plugin in _ADDOPTS_PLUGINS.items() if option in config}
    if "[mypy" in config or "[tool.mypy" in config or (tree / "mypy.ini").is_file():
        reqs.add("mypy")  # loopwright fix runs a configured type checker, so the task's venv needs it
    meta = text_or_none(tree / "PKG-INFO") or ""
    lines = re.findall(r"^Requires-Dist:\s*(.+)$", meta, re.MULTILINE) or _egg_requires(tree)
    for line in lines:
        try:
            req = Requirement(line.strip())
        except InvalidRequirement:
            continue
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", *TEST_EXTRAS)):
            reqs.add(str(Requirement(line.split(";")[0].strip())))
    return sorted(reqs)


#: test-only packages the test code shows it needs without declaring them: a module it imports,
#: or a fixture/mark of a pytest plugin it uses
_IMPORTED = {"hypothesis": "hypothesis", "mock": "mock", "freezegun": "freezegun", "pytz": "pytz",
             "dateutil": "python-dateutil", "yaml": "pyyaml", "simplejson": "simplejson", "attr": "attrs",
             "typing_extensions": "typing-extensions", "pytest_mock": "pytest-mock", "testpath": "testpath"}
_USED = {r"\bmocker\b": "pytest-mock", r"\bbenchmark\(": "pytest-benchmark",
         r"pytest\.mark\.asyncio|pytest_asyncio": "pytest-asyncio", r"\bmonkeypatch_env\b": "pytest-env"}
#: development tools that no test imports (linters, builders, docs, runners): not installed
_TOOLS = re.compile(r"^(tox|nox|sphinx.*|black|flake8.*|pylint|ruff|isort|mypy|pre-commit|codecov|coveralls|twine|"
                    r"wheel|setuptools.*|build|check-manifest|bandit|pyright|docutils|readme.renderer|pip|"
                    r"coverage|pytest-cov|pytest-xdist|pytest-randomly|pytest-sugar|pytest-instafail|.*-stubs|types-.*)$",
                    re.IGNORECASE)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[A-Za-z0-9,._ -]+\])?")


def test_requirements(tree: Path) -> list[str]:
    """Packages the sdist's tests need that its metadata does not declare, by name (no versions:
    an old pin may not install on this interpreter), sorted.

    Read from: tox.ini's ``[testenv]`` ``deps`` (a ``factor:`` prefix dropped, ``-r``/``.``/``{…}``
    lines skipped); ``pyproject.toml``'s ``[dependency-groups]`` (PEP 735) and
    ``[tool.pdm.dev-dependencies]`` groups and ``[tool.poetry.group.*.dependencies]`` named
    test/tests/testing/dev, and ``[tool.poetry.dev-dependencies]``; requirement files
    named for tests (``requirements-test*.txt``, ``test-requirements.txt``,
    ``requirements/test*.txt``, ``tests/requirements.txt``); and modules or pytest fixtures the
    test code uses (:data:`_IMPORTED`, :data:`_USED`). Linters, builders and docs tools
    (:data:`_TOOLS`) and the package itself are left out.
    """
    import configparser
    import tomllib

    lines: list[str] = []
    tox = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        tox.read_string(text_or_none(tree / "tox.ini") or "")
        lines += tox.get("testenv", "deps", fallback="").splitlines()
    except configparser.Error:
        pass
    try:
        project = tomllib.loads(text_or_none(tree / "pyproject.toml") or "")
    except tomllib.TOMLDecodeError:
        project = {}
    tool = project.get("tool", {})
    groups = {**project.get("dependency-groups", {}), **tool.get("pdm", {}).get("dev-dependencies", {})}
    poetry = tool.get("poetry", {})
    poetry_groups = {k: list(v.get("dependencies", {})) for k, v in poetry.get("group", {}).items()}
    poetry_groups["dev"] = poetry_groups.get("dev", []) + list(poetry.get("dev-dependencies", {}))
    for name in ("test", "tests", "testing", "dev"):
        lines += [x for x in groups.get(name, []) if isinstance(x, str)] + poetry_groups.get(name, [])
    for pattern in ("requirements-test*.txt", "requirements_test*.txt", "test-requirements.txt",
                    "test_requirements.txt", "requirements/test*.txt", "tests/requirements.txt"):
        for path in sorted(tree.glob(pattern)):
            lines += (text_or_none(path) or "").splitlines()
    tests = "\n".join(text_or_none(p) or "" for p in sorted(tree.rglob("*.py"))
                      if "test" in p.relative_to(tree).as_posix().lower())
    imported = set(re.findall(r"^\s*(?:from|import)\s+([A-Za-z_][A-Za-z0-9_]*)", tests, re.MULTILINE))
    found = {dist for module, dist in _IMPORTED.items() if module in imported}
    found |= {dist for pattern, dist in _USED.items() if re.search(pattern, tests)}
    own = re.sub(r"[-_.]+", "-", (re.findall(r"^Name:\s*(\S+)", text_or_none(tree / "PKG-INFO") or "", re.MULTILINE)
                                  or [""])[0]).lower()
    for line in lines:
        line = line.split("#")[0].split(";")[0]
        line = line.split(":", 1)[1] if re.match(r"^\s*[\w,{}-]+:\s", line) else line  # tox factor prefix
        m = _NAME.match(line)
        if m and not line.strip().startswith(("-", ".", "{")) and "://" not in line and "+" not in m.group(0):
            found.add(m.group(1) + (m.group(2) or ""))
    return sorted(n for n in found if not _TOOLS.match(n.split("[")[0])
                  and re.sub(r"[-_.]+", "-", n.split("[")[0]).lower() not in ("pytest", own))


def _egg_requires(tree: Path) -> list[str]:
    """``*.egg-info/requires.txt`` as PEP 508 lines (a section becomes an extra and/or marker)."""
    found = sorted(tree.glob("*.egg-info/requires.txt")) + sorted(tree.glob("*/*.egg-info/requires.txt"))
    out, marker = [], ""
    for raw in (text_or_none(found[0]) or "").splitlines() if found else []:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            extra, _, cond = line.strip("[]").partition(":")
            parts = ([f'extra == "{extra}"'] if extra else []) + ([f"({cond})"] if cond else [])
            marker = " and ".join(parts)
            continue
        out.append(f"{line}; {marker}" if marker else line)
    return out


def venv_slot(reqs: list[str], cache: Path | None = None) -> Path:
    """Where the venv for a requirement set lives: ``CACHE/release-pairs/venvs/<sha1[:12]>``;
    it is ready when it holds a ``.ready`` file."""
    key = hashlib.sha1("\n".join(sorted(reqs)).encode()).hexdigest()[:12]
    return cache_dir(cache) / "release-pairs" / "venvs" / key


def ensure_venv(reqs: list[str], cache: Path | None = None, timeout: float = 600.0) -> Path:
    """A venv with ``reqs`` installed, shared by every task that needs the same set.

    Lives in ``CACHE/release-pairs/venvs/<hash of reqs>``; returns its ``bin/python``.

    Raises:
        PairError: venv creation or pip install failed (the message has pip's output tail).
    """
    slot = venv_slot(reqs, cache)
    python = slot / "bin" / "python"
    if (slot / ".ready").is_file():
        return python
    shutil.rmtree(slot, ignore_errors=True)
    slot.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    base = getattr(sys, "_base_executable", sys.executable)
    for cmd in ([base, "-m", "venv", str(slot)],
                [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *reqs]):
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
        if res.returncode != 0:
            raise PairError(f"{' '.join(cmd[:4])} failed (exit {res.returncode}): "
                            f"{(res.stderr or res.stdout).strip()[-1500:]}")
    (slot / ".ready").write_text("\n".join(reqs) + "\n")
    return python


def run_pytest(python: Path, repo: Path, ids: list[str] | None = None,
               timeout: float = 180.0, output: list[str] | None = None) -> tuple[int | None, set[str]]:
    """Run pytest in ``repo`` and return (exit code or None on timeout, failing node ids).

    Failing ids come from pytest's short summary (``-rfE``); a file that fails to
    collect shows as its path without ``::``; colour is off (``--color=no``, and ANSI codes dropped). ``output``, when given, gets pytest's output
    appended (one string). A ``src/`` layout's ``src`` is on ``PYTHONPATH``
    (:func:`evals.sources.clean_env`): the venv holds the requirements, not the package.
    """
    args = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", "--tb=no", "--color=no",
            "--continue-on-collection-errors", "-o", "console_output_style=classic", *(ids or [])]
    rc, out = run_process(args, repo, timeout, clean_env(repo))  # src/ on the path, as the run has it
    out = _ANSI.sub("", out)  # a project's addopts or FORCE_COLOR may still colour the summary
    failed = {m.group(2).strip() for m in map(_SUMMARY.match, out.splitlines()) if m}
    if output is not None:
        output.append(out)
    return rc, failed
