"""The release-pair suite in two halves by library: one to tune the repairer on, one held out.

Rule (issue 21: "tune on half, report both halves separately"), fixed before any repair result
is seen: the libraries of the suite before issue 21 (:data:`TUNED`) have been tuned on, so they
are in the ``tune`` half; the libraries the rule held out when the suite was first grown
(:data:`HELD`) stay held out, whatever later growth brings. Every other library is put in an
order by a seeded shuffle (``random.Random(SEED).shuffle`` of the sorted names) and, in that
order, goes to ``heldout`` until the held-out half has at least half of all libraries (rounded
up); the rest go to ``tune``.
A library's tasks all stay in its half (no library in both). The halves are two suite files,
``evals/suites/release-pairs.yaml`` (tune) and ``evals/suites/release-pairs-heldout.yaml``.

``python -m evals.release_split MINED.yaml ...`` adds the tasks of freshly mined suite files
(``python -m evals.release_pairs mine ... --suite MINED.yaml``) to the two shipped files by this
rule (ids already present are skipped) and prints which library went where.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

from evals.release_pairs import DESCRIPTION, load_suite, write_suite

__all__ = ["HELD", "HELDOUT_FILE", "SEED", "SPLIT_RULE", "TUNED", "TUNE_FILE", "library", "main", "split"]

SUITES = Path(__file__).resolve().parent / "suites"
TUNE_FILE = SUITES / "release-pairs.yaml"
HELDOUT_FILE = SUITES / "release-pairs-heldout.yaml"
#: the libraries of the release-pair suite before issue 21 (tuned on), and the libraries the rule
#: put in the tune half when the suite was grown on 2026-12-06 (docstring-parser, prettytable):
#: a library of the tune half stays there when later growth reshuffles the fresh ones
TUNED = ("funcy", "furl", "h11", "parse", "pathspec", "pycodestyle", "tenacity", "docstring-parser", "prettytable",
         # put in the tune half when the suite was grown again (2026-12-06, third session)
         "chardet", "exceptiongroup", "humanize", "jsonschema", "pure_eval", "pycparser", "toml")
#: the libraries the rule put in the held-out half when the suite was grown on 2026-12-06: they
#: stay held out when later growth (or a task's removal) reshuffles the fresh ones (a half
#: never loses a library)
HELD = ("arrow", "cachetools", "inflection", "mistune", "natsort", "python-dotenv", "rsa", "termcolor", "tinydb",
        "unidiff",
        # held out when the suite was grown again (2026-12-06, third session)
        "aniso8601", "autopep8", "boltons", "marshmallow", "num2words", "pyjwt", "rfc3986", "yapf")
SEED = 21
SPLIT_RULE = (
    "Split by library (evals/release_split.py), decided before any repair result: libraries in the suite "
    f"before issue 21 and those put in the tune half when it was grown ({', '.join(TUNED)}) are in the "
    f"tune half, those held out then ({', '.join(HELD)}) stay held out; the others, sorted "
    f"and shuffled by random.Random({SEED}), go in that order to the held-out half until it has at least "
    "half of all libraries (rounded up), the rest to the tune half. Tune: release-pairs.yaml; held out: "
    "release-pairs-heldout.yaml. Report the halves separately.")


def library(task: dict) -> str:
    """The PyPI name of a release-pair task's library (``repo.release_pair.package``)."""
    return str(task["repo"]["release_pair"]["package"])


def split(libraries: list[str] | set[str], seed: int = SEED) -> dict[str, str]:
    """``{library: "tune" | "heldout"}`` by the module's rule.

    Args:
        libraries: every library of the suite (order does not matter; duplicates are one).
        seed: the shuffle's seed (:data:`SEED` for the shipped suite).
    """
    names = sorted(set(libraries))
    held = [n for n in names if n in HELD]
    fresh = [n for n in names if n not in TUNED and n not in HELD]
    random.Random(seed).shuffle(fresh)
    want = math.ceil(len(names) / 2)
    heldout = set(held) | set(fresh[:max(0, want - len(held))])
    return {n: "heldout" if n in heldout else "tune" for n in names}


def main(argv: list[str] | None = None) -> int:
    """Add mined tasks to the two halves; exit 0 done, 2 a file is not a suite."""
    ap = argparse.ArgumentParser(prog="python -m evals.release_split", description=__doc__.split("\n\n")[0])
    ap.add_argument("mined", nargs="*", type=Path, help="suite files written by `release_pairs mine`")
    ap.add_argument("--tune", type=Path, default=TUNE_FILE)
    ap.add_argument("--heldout", type=Path, default=HELDOUT_FILE)
    ap.add_argument("--note", default="", help="a sentence added to both descriptions (how the new tasks were mined)")
    args = ap.parse_args(argv)
    try:
        halves = {"tune": load_suite(args.tune), "heldout": load_suite(args.heldout)}
        tasks = [t for half in halves.values() for t in half["tasks"]]
        for path in args.mined:
            tasks += load_suite(path)["tasks"]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    unique = list({t["id"]: t for t in tasks}.values())
    where = split({library(t) for t in unique})
    for name, path in (("tune", args.tune), ("heldout", args.heldout)):
        chosen = [t for t in unique if where[library(t)] == name]
        suite = {"suite": f"release-pairs{'' if name == 'tune' else '-heldout'}",
                 "description": " ".join(filter(None, (DESCRIPTION, args.note, SPLIT_RULE, f"This file: the {name} half."))),
                 "tasks": chosen}
        write_suite(path, suite)
        libs = sorted({library(t) for t in chosen})
        print(f"{name}: {len(chosen)} tasks from {len(libs)} libraries ({', '.join(libs)}) -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
