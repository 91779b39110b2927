"""Reading a pytest process's output: the plugin's records on the results pipe, why a
process ran no test, and which plugins the target's pytest loads (:mod:`harness.evaluators.pytest_runner`
uses all three)."""

from __future__ import annotations

import inspect
import json
import os
import re
from pathlib import Path

#: run by the target interpreter (``python -c``): its pytest version and the names of the
#: plugins pytest would auto-load (entry point group ``pytest11``), as one JSON line.
PLUGINS_PROBE = ("import json, importlib.metadata as m, pytest; print(json.dumps([pytest.__version__, "
                 "sorted({e.name for e in m.entry_points(group='pytest11')})]))")


def probe_here(python: str, root: Path) -> str | None:
    """:data:`PLUGINS_PROBE`'s output computed in this process when ``python`` is this very
    interpreter in this very environment (no process to start: ~0.3 s quiet, over 1 s at load 5),
    with ``root`` and ``root/src`` on the path as in the test processes; None for another
    interpreter or another virtual environment of the same one (its plugins differ)."""
    import sys

    here, there = Path(sys.executable), Path(python)
    # every virtual environment's python resolves to its base interpreter: the environment is
    # told by the unresolved folder the executable sits in (bin/ of the venv)
    if there.resolve() != here.resolve() or os.path.abspath(there.parent) != os.path.abspath(here.parent):
        return None
    import importlib.metadata as m

    path = [str(root), str(root / "src"), *(p for p in sys.path if p)]
    try:
        names = {e.name for d in m.distributions(path=path) for e in d.entry_points if e.group == "pytest11"}
        return json.dumps([m.version("pytest"), sorted(names)])
    except Exception:  # noqa: BLE001 (broken metadata: the probe process decides)
        return None


def plugin_args(probe_stdout: str) -> list[str]:
    """pytest arguments that load the auto-loaded plugins by name instead:
    ``["--disable-plugin-autoload", "-p", NAME, ...]`` from :data:`PLUGINS_PROBE`'s output,
    or ``[]`` (auto-loading left on) when the output is not understood or pytest is older
    than 8.4 (no such flag; the environment variable would reach the tests' subprocesses).

    Same plugins, but pytest no longer marks every module of each plugin's distribution for
    assertion rewriting: with bytecode writing off, a plugin that imports its package lazily
    (hypothesis's imports all of ``hypothesis`` at the end of every session) had it
    rewritten and compiled again in every test process, about 1 s of CPU each.
    """
    try:
        version, names = json.loads(probe_stdout.strip().splitlines()[-1])
        major, minor = (int(x) for x in re.match(r"(\d+)\.(\d+)", version).groups())
    except (ValueError, TypeError, IndexError, AttributeError):
        return []
    if (major, minor) < (8, 4) or not all(isinstance(n, str) and n for n in names):
        return []
    return ["--disable-plugin-autoload", *(a for n in names for a in ("-p", n))]


def started(res, nonce: str) -> bool:
    """Whether the pytest process given ``nonce`` got as far as our plugin's first record."""
    return res is not None and any(True for _ in records(res.channel or b"", nonce))


def _importable() -> list[str]:
    """Top-level names importable in this interpreter without any project: the standard library
    and builtin modules, and each installed distribution's ``top_level.txt`` (else the first
    component of the files it lists). Run by the target interpreter too (:data:`NAMES_PROBE`)."""
    import sys
    import importlib.metadata as m

    names = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names)
    for dist in m.distributions():
        try:
            top = (dist.read_text("top_level.txt") or "").split()
            names.update(top or {f.parts[0].split(".")[0] for f in dist.files or () if f.parts
                                 and f.parts[0] not in ("..", "__pycache__")
                                 and not f.parts[0].endswith((".dist-info", ".egg-info", ".pth", ".data"))})
        except Exception:  # noqa: BLE001 (one broken metadata directory does not hide the others)
            continue
    return sorted(n for n in names if n.isidentifier())


#: run by the target interpreter (``python -c``) in an empty directory: :func:`_importable` as JSON.
NAMES_PROBE = ("import json\n" + inspect.getsource(_importable).replace("from __future__", "#")
               + "print(json.dumps(_importable()))\n")


def names_here(python: str) -> str | None:
    """:data:`NAMES_PROBE`'s output computed in this process when ``python`` is this very
    interpreter in this very environment (see :func:`probe_here`), else None."""
    import sys

    here, there = Path(sys.executable), Path(python)
    if there.resolve() != here.resolve() or os.path.abspath(there.parent) != os.path.abspath(here.parent):
        return None
    return json.dumps(_importable())


def records(channel: bytes, nonce: str):
    """The plugin's records in ``channel`` that carry ``nonce`` (others are not ours)."""
    for line in channel.decode("utf-8", "replace").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a dying process
            continue
        if isinstance(rec, dict) and rec.get("nonce") == nonce:
            yield rec


#: :func:`startup_error` when pytest collected nothing (its exit status 5)
NO_TESTS = "no tests were collected"


def startup_error(res, root: Path | None = None) -> str:
    """Why a pytest process ran no test, in a few lines a user can act on.

    Keeps pytest's own message: the first lines of what it printed (``ERROR: ...``,
    ``ImportError while loading conftest ...``), or for a traceback its last frame and
    the exception line, with ``root`` (the worktree) cut from paths so that messages
    from different worktree slots read the same. At most 5 lines of 300 characters,
    joined with `` | ``.
    """
    text = (res.stderr.strip() or res.stdout.strip())[-20000:]
    if res.timed_out:
        return "pytest did not finish collecting before the process timeout"
    if res.returncode == 5:
        return NO_TESTS
    if "No module named pytest" in text:
        return "pytest is not installed in the target interpreter"
    if root is not None:
        text = text.replace(str(root).rstrip("/") + "/", "").replace(str(root), ".")
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip(" ^~\t")]
    if "Traceback (most recent call last):" in text:
        frames = [i for i, ln in enumerate(lines) if ln.lstrip().startswith('File "')]
        lines = lines[frames[-1]:][:2] + lines[-1:] if frames else lines[-1:]
    lines = [ln if len(ln) <= 300 else ln[:297] + "..." for ln in lines[:5]]
    detail = " | ".join(lines) if lines else "(it printed nothing)"  # one line: live views
    return f"pytest exited with code {res.returncode} before running any test: {detail}"


def spec_files(tag: Path, specs: dict[str, object]) -> dict[str, str]:
    """Each spec not None written to ``TAG.NAME.json``: the plugin's variables (name -> path)."""
    env = {}
    for name, value in specs.items():
        if value is not None:
            Path(f"{tag}.{name}.json").write_text(json.dumps(value))
            env[name] = f"{tag}.{name}.json"
    return env
