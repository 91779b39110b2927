"""Growing the release-pair suite in bulk: a download-only scan of many libraries, then the miner
over the scan's candidates, with the stage where each pair is lost (the yield funnel).

``python -m evals.release_scan scan PKG ... --out scan.jsonl [--pairs K] [--jobs J]`` lists every
package's releases (``pip index versions``), downloads the sdists of its last K consecutive pairs
and writes one JSON row per pair with the scan stage where it stops (:data:`SCAN_STAGES`); the
pairs that reach ``candidate`` have a non-test module changed by 1..6 lines. It is IO-bound:
``--jobs`` libraries are scanned at once, each pair's sdists once.

``python -m evals.release_scan mine --scan scan.jsonl --suite mined.yaml --funnel funnel.jsonl``
runs :func:`evals.release_mine.mine_pair` on each candidate not yet in the funnel file, one at a
time (the CPU-heavy part), appends the tasks to the suite file and one row per pair to the funnel
file with its mining stage (:data:`evals.release_mine.MINE_STAGES`). With ``--follow`` it waits for
the scan to write more rows until ``--until HH:MM`` (UTC). ``python -m evals.release_scan report
scan.jsonl funnel.jsonl`` prints the counts per stage, per library and in total.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from evals.release_mine import mine_pair
from evals.release_pairs import DESCRIPTION, load_suite, versions, write_suite
from evals.release_trees import MAX_CHANGED_LINES, has_tests, is_test_file, pair_trees, source_changes
from evals.sources import PrepareError

__all__ = ["SCAN_STAGES", "SEEN", "main", "mine_candidates", "scan_pair", "scan_package", "stage_counts"]

#: libraries the project has already used (the injected suite's, and the hand-made bugs of
#: tests/test_evidence.py and tests/test_evaluation_starts.py): never mined, a held-out task must be unseen
SEEN = ("tabulate", "sqlparse", "xmltodict", "semantic-version", "toolz", "python-slugify", "jmespath", "six",
        "colorama", "pyflakes")

#: where a pair stops in the scan, in order; ``candidate`` goes on to the miner
SCAN_STAGES = ("download_failed", "no_tests_in_sdist", "no_module_changed", "no_small_change", "candidate")


def scan_pair(package: str, old: str, new: str, cache: Path | None = None) -> dict:
    """One scan row for the pair ``old`` -> ``new`` of ``package`` (downloads, no test runs).

    Returns:
        ``{package, old, new, stage, modules_changed, small: ["path (lines)", ...], detail}``;
        ``stage`` is one of :data:`SCAN_STAGES`: the sdist of either release could not be had,
        N+1's sdist ships no test module, no non-test module changed (beyond version bumps,
        comments, docstrings), every changed module changed by more than
        :data:`~evals.release_trees.MAX_CHANGED_LINES` lines, or a candidate.
    """
    row = {"package": package, "old": old, "new": new, "stage": "", "modules_changed": 0, "small": [],
           "detail": ""}
    try:
        old_root, new_root = pair_trees(package, old, new, cache)
    except PrepareError as exc:
        return {**row, "stage": "download_failed", "detail": str(exc).strip().splitlines()[-1][:200]}
    if not has_tests(new_root):
        return {**row, "stage": "no_tests_in_sdist"}
    changes = source_changes(old_root, new_root)
    small = [f"{c.path} ({c.changed_lines})" for c in changes if c.changed_lines <= MAX_CHANGED_LINES]
    stage = "candidate" if small else "no_small_change" if changes else "no_module_changed"
    return {**row, "stage": stage, "modules_changed": len(changes), "small": small}


def scan_package(package: str, pairs: int, out: Path, cache: Path | None = None) -> int:
    """Scan the last ``pairs`` consecutive release pairs of ``package``, newest first, appending
    a row per pair (:func:`scan_pair`) to the JSONL file ``out``; returns the candidates found.
    Pairs already in ``out`` are skipped (a later, longer scan goes on where a short one ended).
    A package whose versions cannot be listed gets one ``download_failed`` row."""
    seen = {(r["old"], r["new"]) for r in _rows(out) if r["package"] == package}
    if ("", "") in seen:
        return 0
    try:
        vers = versions(package)[-(pairs + 1):]
    except (PrepareError, OSError) as exc:
        _append(out, {"package": package, "old": "", "new": "", "stage": "download_failed",
                      "modules_changed": 0, "small": [], "detail": str(exc)[:200]})
        return 0
    found = 0
    for old, new in reversed(list(zip(vers, vers[1:]))):
        if (old, new) in seen:
            continue
        row = scan_pair(package, old, new, cache)
        found += row["stage"] == "candidate"
        _append(out, row)
    return found


def _append(path: Path, row: dict) -> None:
    with open(path, "a", encoding="utf-8") as fh:  # one write per row: rows from threads never interleave
        fh.write(json.dumps(row) + "\n")


def _rows(path: Path) -> list[dict]:
    """The JSON rows of a JSONL file (a cut-off last line skipped; absent file: none)."""
    if not Path(path).is_file():
        return []
    out = []
    for line in Path(path).read_text("utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def mine_candidates(scan: Path, suite: Path, funnel: Path, *, timeout: float = 120.0,
                    follow_until: datetime | None = None, log=print, cache: Path | None = None,
                    shard: tuple[int, int] = (0, 1)) -> int:
    """Mine every ``candidate`` row of ``scan`` not yet in ``funnel``, one pair at a time.

    Tasks are appended to the suite file ``suite`` (ids already there skipped); each pair gets a
    funnel row ``{package, old, new, stage, tasks, detail, seconds}`` (``stage`` from
    :func:`evals.release_mine.mine_pair`'s ``why``). Pairs where at most 2 modules changed come
    first (a release that changed many modules rarely has one small change that alone fixes its new
    tests) and whose tests are under 300 KiB of code (each of the miner's pytest runs runs them
    all) come first; among them, breadth first: the library with the fewest mined pairs so far, then the
    fewest modules changed. With ``follow_until`` the function
    waits for more scan rows until that UTC time, else it returns when none is left. Libraries in
    :data:`SEEN` are never mined. ``cache``: the cache root (default :func:`evals.sources.cache_root`).
    ``shard``: ``(k, n)`` mines only the libraries whose name's CRC-32 is ``k`` modulo ``n``, so ``n``
    miners (each with its own suite and funnel file) share a scan without taking the same pair.

    Returns:
        The number of tasks added.
    """
    added = 0
    while True:
        done = {(r["package"], r["old"], r["new"]) for r in _rows(funnel)}
        per_lib = Counter(r["package"] for r in _rows(funnel))
        todo = [r for r in _rows(scan) if r["stage"] == "candidate" and r["package"] not in SEEN
                and (r["package"], r["old"], r["new"]) not in done
                and zlib.crc32(r["package"].encode()) % shard[1] == shard[0]]
        if follow_until is not None and datetime.now(UTC) >= follow_until:
            return added
        if not todo:
            if follow_until is None:
                return added
            time.sleep(20)
            continue
        row = min(todo, key=lambda r: (r.get("modules_changed", 0) > 2 or _test_kb(r, cache) > _BIG_TESTS_KB,
                                       per_lib[r["package"]], r.get("modules_changed", 0)))
        why: dict = {}
        t0 = time.monotonic()
        try:
            tasks = mine_pair(row["package"], row["old"], row["new"], cache=cache, timeout=timeout, why=why, log=log)
        except PrepareError as exc:
            tasks, why = [], {"stage": "env_failed", "detail": str(exc).strip()[-300:]}
        except Exception as exc:  # on purpose: one pair's crash is that pair's funnel row, mining goes on
            tasks, why = [], {"stage": "crashed", "detail": f"{type(exc).__name__}: {exc}"[:300]}
            log(traceback.format_exc())
        have = load_suite(suite)
        ids = {t["id"] for t in have["tasks"]}
        fresh = [t for t in tasks if t["id"] not in ids]
        if fresh:
            have["tasks"].extend(fresh)
            have["description"] = have.get("description") or DESCRIPTION
            write_suite(suite, have)
            added += len(fresh)
        _append(funnel, {"package": row["package"], "old": row["old"], "new": row["new"],
                         "stage": why.get("stage", "task" if tasks else "unknown"), "tasks": len(fresh),
                         "detail": str(why.get("detail", ""))[:300], "seconds": round(time.monotonic() - t0, 1)})


_BIG_TESTS_KB = 300
_SIZES: dict[tuple[str, str], int] = {}


def _test_kb(row: dict, cache: Path | None) -> int:
    """KiB of test files in the pair's N+1 tree (0 when it cannot be had): a big test suite is a
    slow one, each pytest run of the miner runs all of it."""
    key = (row["package"], row["new"])
    if key not in _SIZES:
        try:
            root = pair_trees(row["package"], row["old"], row["new"], cache)[1]
            _SIZES[key] = sum(p.stat().st_size for p in root.rglob("*.py")
                              if is_test_file(p.relative_to(root).as_posix())) // 1024
        except (PrepareError, OSError):
            _SIZES[key] = 0
    return _SIZES[key]


def stage_counts(scan_rows: list[dict], funnel_rows: list[dict]) -> dict[str, int]:
    """Pairs per stage over the scan and the mining: the scan's stages, except that a mined
    candidate counts at its mining stage (a candidate not mined yet stays ``candidate``)."""
    mined = {(r["package"], r["old"], r["new"]): r["stage"] for r in funnel_rows}
    out: Counter = Counter()
    for r in scan_rows:
        out[mined.get((r["package"], r["old"], r["new"]), r["stage"])] += 1
    return dict(out)


def _report(args) -> int:
    scan = [r for r in _rows(args.scan) if r["package"] not in SEEN]
    funnel = _rows(args.funnel) if args.funnel else []
    total = stage_counts(scan, funnel)
    print(f"pairs: {len(scan)} of {len({r['package'] for r in scan})} libraries")
    for stage, n in sorted(total.items(), key=lambda kv: -kv[1]):
        print(f"  {stage}: {n}")
    tasks: Counter[str] = Counter()
    for r in funnel:
        tasks[r["package"]] += r.get("tasks", 0)
    print(f"tasks: {sum(tasks.values())} from {sum(1 for n in tasks.values() if n)} libraries: "
          + ", ".join(f"{k} {v}" for k, v in sorted(tasks.items()) if v))
    if args.per_library:
        for lib in sorted({r["package"] for r in scan}):
            counts = stage_counts([r for r in scan if r["package"] == lib], [r for r in funnel if r["package"] == lib])
            print(f"  {lib}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


def next_utc(hhmm: str, now: datetime) -> datetime:
    """The first moment at ``hhmm`` (``"HH:MM"``, UTC) after ``now``: a time of day already
    past today is tomorrow's, so ``--until 00:10`` given at 23:18 waits 52 minutes.

    Raises:
        ValueError: ``hhmm`` is not two integers ``HH:MM`` within a day.
    """
    hh, mm = (int(x) for x in hhmm.split(":"))
    at = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m evals.release_scan``: exit 0 done, 2 bad input."""
    ap = argparse.ArgumentParser(prog="python -m evals.release_scan", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("scan", help="download-only scan of many libraries")
    p.add_argument("packages", nargs="+")
    p.add_argument("--out", type=Path, required=True, help="JSONL file the rows are appended to")
    p.add_argument("--pairs", type=int, default=25, help="the last K consecutive pairs of each package")
    p.add_argument("--jobs", type=int, default=2, help="packages scanned at once (downloads are IO-bound)")
    p = sub.add_parser("mine", help="mine the scan's candidates one at a time")
    p.add_argument("--scan", type=Path, required=True)
    p.add_argument("--suite", type=Path, required=True, help="suite YAML the tasks are appended to")
    p.add_argument("--funnel", type=Path, required=True, help="JSONL file of mined pairs and their stage")
    p.add_argument("--test-timeout", type=float, default=120.0, help="seconds per pytest run")
    p.add_argument("--until", default=None, help="HH:MM UTC: keep waiting for scan rows until then")
    p.add_argument("--shard", default="0/1", help="K/N: mine only the libraries of shard K of N (N miners at once, "
                   "each with its own --suite and --funnel)")
    p = sub.add_parser("report", help="pairs per stage")
    p.add_argument("scan", type=Path)
    p.add_argument("funnel", type=Path, nargs="?")
    p.add_argument("--per-library", action="store_true")
    args = ap.parse_args(argv)
    if args.cmd == "scan":
        todo = [p for p in dict.fromkeys(args.packages) if p not in SEEN]
        if len(todo) < len(set(args.packages)):
            print(f"left out, already used by the project: {', '.join(sorted(set(args.packages) & set(SEEN)))}",
                  file=sys.stderr)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for package, found in zip(todo, pool.map(lambda p: scan_package(p, args.pairs, args.out), todo)):
                print(f"{package}: {found} candidate pairs", file=sys.stderr, flush=True)
        return 0
    if args.cmd == "mine":
        try:
            until = next_utc(args.until, datetime.now(UTC)) if args.until else None
        except ValueError:
            print(f"error: --until {args.until!r}: expected HH:MM (UTC, 00:00-23:59)", file=sys.stderr)
            return 2
        try:
            k, n_shards = (int(x) for x in args.shard.split("/"))
            if not 0 <= k < n_shards:
                raise ValueError(args.shard)
        except ValueError:
            print(f"error: --shard {args.shard!r}: expected K/N with 0 <= K < N, e.g. 0/2", file=sys.stderr)
            return 2
        n = mine_candidates(args.scan, args.suite, args.funnel, timeout=args.test_timeout, follow_until=until,
                            log=lambda m: print(m, file=sys.stderr, flush=True), shard=(k, n_shards))
        print(f"{args.suite}: {n} tasks added", file=sys.stderr)
        return 0
    return _report(args)


if __name__ == "__main__":
    sys.exit(main())
