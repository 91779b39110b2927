"""``loopwright fix`` with the offline generator loads no model stack and no GitHub client.

Each test runs a fresh interpreter (``python -c``) and reads its ``sys.modules`` at exit,
so what other tests imported in this process cannot hide an import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PYTHON

ROOT = Path(__file__).parents[1]
#: modules an offline ``fix`` must never import: the model loop, the SDKs, the GitHub client.
HEAVY = {"harness.generators.llm", "harness.generators.openai_gen", "harness.generators.anthropic_gen",
         "harness.generators.replay", "openai", "anthropic", "tenacity", "harness.work.github", "httpx"}
REPORT = ("import atexit, sys\n"
          "atexit.register(lambda: print('MODULES', ' '.join(sorted(sys.modules)), file=sys.stderr))\n")


def _offline_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    return {**env, "PYTHONPATH": str(ROOT)}


def _loaded(stderr: str) -> set[str]:
    return set(stderr.split("MODULES", 1)[1].split())


def test_fix_command_module_and_offline_generator_load_no_model_stack():
    """Importing the fix command, building the default (offline) generator and checking the
    cost budget, as ``loopwright fix`` does, imports none of :data:`HEAVY`."""
    probe = REPORT + (
        "import harness.cli.fix\n"
        "from harness.cli.common import build_generator, default_generator\n"
        "from harness.generators.registry import unpriced_models\n"
        "from loops.spec import builtin_spec\n"
        "loop = builtin_spec('fix-failing-tests')\n"
        "spec = default_generator(loop)\n"
        "assert spec == 'templates', spec\n"
        "assert unpriced_models(build_generator(spec, loop)) == []\n")
    res = subprocess.run([sys.executable, "-c", probe], env=_offline_env(), capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    loaded = _loaded(res.stderr)
    assert "harness.cli.fix" in loaded and "harness.core.loop" in loaded
    assert not loaded & HEAVY, sorted(loaded & HEAVY)


def test_offline_fix_run_loads_no_model_stack(make_repo, tmp_path):
    """A whole ``loopwright fix --generator templates --max-cost 1`` run (a budget in USD makes
    the run ask which generators are priced) imports none of :data:`HEAVY`."""
    root = make_repo({"calc.py": "def add(a, b):\n    return a - b\n",
                      "test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"})
    probe = REPORT + (
        f"sys.argv = ['loopwright', 'fix', {str(root)!r}, '--json', '--python', {PYTHON!r},\n"
        "            '--generator', 'templates', '--max-cost', '1']\n"
        "from loopwright.cli import main\nmain()\n")
    env = {**_offline_env(), "LOOPWRIGHT_WORKTREES": str(tmp_path / "worktrees")}
    res = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["status"] == "fixed"
    loaded = _loaded(res.stderr)
    assert "harness.work.fix" in loaded and "harness.generators.templates" in loaded
    assert not loaded & HEAVY, sorted(loaded & HEAVY)
