"""``status --kept`` and ``gc --memory/--baseline/--lessons/--runs/--all``: the state
loopwright keeps about a repository between runs (:mod:`harness.core.kept`), shown and dropped."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table


def status_kept(root: Path, as_json: bool) -> None:
    """Print how much state is kept for ``root``: a table, or with ``as_json`` one object
    ``{kind: {"count", "bytes"}}``."""
    from harness.core.kept import usage

    rows = usage(root)
    if as_json:
        print(json.dumps({k.kind: {"count": k.count, "bytes": k.bytes} for k in rows}, indent=2))
        return
    table = Table("state", "count", "bytes")
    for k in rows:
        table.add_row(k.kind, f"{k.count} {k.what}", f"{k.bytes:,}")
    Console().print(table)
    Console().print("drop it with `loopwright gc --memory/--baseline/--lessons/--runs` or `gc --all`",
                    markup=False)


def gc_kept(root: Path, chosen: dict[str, bool], everything: bool) -> list[str]:
    """Drop the kept state the gc flags chose (:func:`harness.core.kept.drop`); returns what
    was removed."""
    from harness.core.kept import KINDS, drop

    return drop(root, set(KINDS) if everything else {k for k, on in chosen.items() if on})
