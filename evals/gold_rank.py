"""Where the developer's fix ranks in the offline repairer's candidate order (release-pair tasks).

A release-pair task the repairer does not fix fails for one of two reasons: the developer's
edit is not among the candidates the operators can write at all (a new operator is needed),
or it is, but ranked past the candidates the run had time for (ranking or speed is the
lever). This tells the two apart without running a single candidate: it starts a real
``fix`` run on the task (baseline, coverage, fault localization - the same context the
loop builds), and at the first generation enumerates the search's candidates best first
(:meth:`~harness.generators.templates.TemplateGenerator.candidates`, up to ``limit``),
looking for one whose file text is the developer's (:func:`evals.release_trees.same_code`:
the same AST once comments, layout and docstrings are set aside). No candidate is evaluated:
the run stops there.

The rank is a lower bound on what the loop does: the loop's later batches also search on
from partial fixes (leads) and read the angelic probe's facts, which this first context
does not have; an equivalent but different edit is not recognised.

``python -m evals.gold_rank SUITE.yaml --tasks DIR [--only ID ...] [--limit N]``: ``DIR``
holds the task repositories (``DIR/ID/repo``, as a ``release_pairs run --out OUT`` leaves
them in ``OUT/tasks``; a missing one is materialized there). Prints a table; ``--out FILE``
writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import sys
import textwrap
import time
from pathlib import Path

from evals.release_trees import materialize, same_code
from harness.core.config import SETTINGS
from harness.core.context import Context
from harness.core.protocols import Proposal
from harness.generators.templates import TemplateGenerator
from sandbox.patch import Patch, PatchError, patched_texts

__all__ = ["GoldProbe", "gold_rank", "main"]

#: candidates enumerated per task (the offline run evaluates 400-500 before its no-progress stop)
LIMIT = 5000
#: longest region (lines) parsed per candidate to tell the same code written otherwise: past it,
#: only a text equal but for layout and quoting counts (a lower bound, as everything here)
MAX_REGION = 300
#: lines around the developer's change within which a candidate's edit may be the same edit
NEAR = 3


class GoldProbe(TemplateGenerator):
    """The offline repairer that, asked for its first batch, ranks its candidates against the
    developer's patch ``gold`` (a unified diff) and proposes nothing, so the run stops.

    After the run, :attr:`found` is ``{rank, operator, description, score, enumerated,
    seconds}`` (``rank``: 1-based among the first ``limit`` candidates, None when not among
    them; ``seconds``: wall seconds of the enumeration), or None when no generation happened.
    """

    def __init__(self, gold: str, limit: int = LIMIT):
        super().__init__()
        self.gold = gold
        self.limit = limit
        self.found: dict | None = None

    def generate(self, context: Context) -> Proposal:
        if self.found is None:
            self.found = rank_in(context, self.gold, self.limit, self.candidates)
        return Proposal(candidates=[])


def rank_in(context: Context, gold: str, limit: int, enumerate_candidates) -> dict:
    """The developer's edit's place among ``enumerate_candidates(context, limit)`` (a list of
    ``(score, mutant)``, best first); see :class:`GoldProbe` for the dict returned.

    Raises:
        PatchError: ``gold`` does not apply to the worktree's files.
    """
    root = Path(context.root)

    def read(path: str) -> str | None:
        p = root / path
        return p.read_text(encoding="utf-8") if p.is_file() else None

    old_texts, new_texts = patched_texts(Patch.from_diff(gold), read)
    changed = {path: _changed_lines(old_texts[path] or "", new or "") for path, new in new_texts.items()}
    whole = {path: _squash(new or "") for path, new in new_texts.items()}
    regions = {path: _region(old_texts[path] or "", *changed[path]) for path in new_texts}
    started = time.monotonic()
    ranked = enumerate_candidates(context, limit)
    found: dict = {"rank": None, "operator": "", "description": "", "score": None, "enumerated": len(ranked)}
    for n, (score, mutant) in enumerate(ranked, 1):
        lo, hi = changed.get(mutant.path, (0, -1))
        want = new_texts.get(mutant.path)
        if want is None or not lo - NEAR <= mutant.line <= hi + NEAR:
            continue
        # an edit whose new code the developer's text does not hold cannot be theirs (cheap,
        # before a parse of the whole module)
        if _squash(mutant.replacement) not in whole[mutant.path]:
            continue
        new = mutant.new_source
        if _squash(new) == whole[mutant.path] or _same_region(old_texts[mutant.path] or "", new, want,
                                                              regions[mutant.path], mutant):
            found.update(rank=n, operator=mutant.operator, description=mutant.description, score=round(score, 4))
            break
    found["seconds"] = round(time.monotonic() - started, 2)
    return found


def _region(old: str, lo: int, hi: int) -> tuple[int, int]:
    """Lines (1-based, inclusive) of the innermost function or class of ``old`` holding lines
    ``lo``..``hi`` (decorators included), else of the module-level statement holding them (a
    table), else the whole module: where two edits there must agree for the modules to be the
    same code."""
    best = (1, max(1, len(old.splitlines())))
    try:
        tree = ast.parse(old)
    except SyntaxError:
        return best
    for node in [*ast.walk(tree), *tree.body]:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or node in tree.body:
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            last = node.end_lineno or node.lineno
            if first <= lo and hi <= last and last - first < best[1] - best[0]:
                best = (first, last)
    return best


def _same_region(old: str, new: str, want: str, region: tuple[int, int], mutant) -> bool:
    """Is ``new`` (``old`` with ``mutant``'s edit) the same code as ``want`` (the developer's
    text, which differs from ``old`` only inside ``region``)? Only the region is parsed, so a
    large module costs a function's parse, not the module's."""
    first, last = region
    if last - first > MAX_REGION:
        return False
    if not first <= old.count("\n", 0, mutant.start) + 1 <= last or old.count("\n", 0, mutant.end) + 1 > last:
        return False  # the edit is outside the region: the texts differ outside it
    old_n, new_lines, want_lines = len(old.splitlines()), new.splitlines(), want.splitlines()
    mine = new_lines[first - 1:last + len(new_lines) - old_n]
    theirs = want_lines[first - 1:last + len(want_lines) - old_n]
    if new_lines[:first - 1] != want_lines[:first - 1]:
        return False
    return same_code(textwrap.dedent("\n".join(mine)), textwrap.dedent("\n".join(theirs)))


def _squash(text: str) -> str:
    """``text`` without whitespace, one quote character for both: layout and quoting aside."""
    return "".join(text.split()).replace("'", '"')


def _changed_lines(old: str, new: str) -> tuple[int, int]:
    """First and last 1-based line of ``old`` that ``new`` changes (``difflib``'s line
    opcodes); ``(n, n)`` for a pure insertion before line ``n``."""
    ops = [op for op in difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False).get_opcodes()
           if op[0] != "equal"]
    if not ops:
        return 1, 0
    return ops[0][1] + 1, max(ops[0][1] + 1, ops[-1][2])


def gold_rank(repo: Path, gold: str, limit: int = LIMIT) -> dict:
    """Run ``fix`` on ``repo`` with a :class:`GoldProbe` for ``gold`` and the fix loop's
    settings (environment and ``[tool.loopwright]`` included, as the CLI builds them).

    Returns:
        The probe's :attr:`~GoldProbe.found`, plus ``status`` (the run's: ``nothing_to_fix``
        when no test failed) and ``error`` (a setup error or a gold patch that does not apply,
        else ``""``).
    """
    from harness.core.config import build
    from harness.core.errors import UsageError
    from harness.work.fix import fix
    from loops.spec import builtin_spec

    loop = builtin_spec("fix-failing-tests")
    probe = GoldProbe(gold, limit)
    try:
        options = build(loop, repo, {s.name: None for s in SETTINGS})
        result = fix(repo, probe, options)
    except (UsageError, PatchError) as exc:
        return {"rank": None, "status": "error", "error": str(exc)[:300]}
    return {**(probe.found or {"rank": None}), "status": result.state.status, "error": ""}


def main(argv: list[str] | None = None) -> int:
    """Command line (module docstring). Exit 0, or 2 for a suite or task that cannot be read."""
    from evals.release_pairs import load_suite

    p = argparse.ArgumentParser(prog="python -m evals.gold_rank", description=__doc__.split("\n\n")[0])
    p.add_argument("suite", type=Path, help="release-pair suite YAML")
    p.add_argument("--tasks", type=Path, required=True, help="directory of task repositories (DIR/ID/repo)")
    p.add_argument("--only", nargs="*", default=None, help="task ids (default: all)")
    p.add_argument("--limit", type=int, default=LIMIT, help=f"candidates enumerated per task (default {LIMIT})")
    p.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    args = p.parse_args(argv)
    try:
        suite = load_suite(args.suite)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = []
    for task in suite["tasks"]:
        if args.only and task["id"] not in args.only:
            continue
        repo = args.tasks / task["id"] / "repo"
        if not repo.is_dir():
            materialize(task["repo"]["release_pair"], repo)
        row = {"task": task["id"], **gold_rank(repo, task.get("gold_patch") or "", args.limit)}
        rows.append(row)
        rank = row["rank"] if row["rank"] is not None else f"> {row.get('enumerated', '?')}"
        print(f"{task['id']:32} {rank!s:>8}  {row.get('operator', '')}  {row['error'] or row['status']}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
