"""Static HTML reports (Jinja2, one self-contained file, no script, no network) and the terminal table.

``write_run_report``: one run (``loopwright report RUN_ID [REPO]``): the iterations as a
timeline, each candidate's diff and verdict, tests fixed and broken, cost and time.
``write_suite_report``: a suite (``loopwright eval --html``): metrics per generator side by
side, per-task rows linking to each run's report, and inline SVG plots (fixed rate per
generator, wall-time distribution).
"""

from __future__ import annotations

import json
from pathlib import Path

import jinja2

from evals.metrics import run_metrics
from evals.runner import slug

__all__ = ["RunNotFound", "print_table", "render_run", "write_run_report", "write_suite_report"]

_env = jinja2.Environment(loader=jinja2.PackageLoader("evals", "templates"),
                          autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                          lstrip_blocks=True, undefined=jinja2.StrictUndefined)


class RunNotFound(Exception):
    """No such run in the repository (exit code 2)."""


def find_run_dir(repo: Path, run_id: str) -> Path:
    """``REPO/.git/loopwright/runs/ID`` or ``REPO/.loopwright/runs/ID``.

    Raises:
        RunNotFound: in neither place.
    """
    for base in (repo / ".git" / "loopwright" / "runs", repo / ".loopwright" / "runs"):
        if (base / run_id / "state.json").is_file():
            return base / run_id
    raise RunNotFound(f"no run {run_id} in {repo} (list runs with `loopwright status {repo}`)")


def _read(run_dir: Path, name: str) -> str:
    p = run_dir / name
    return p.read_text(encoding="utf-8", errors="replace") if p.is_file() else ""


def render_run(run_dir: Path, title: str = "", back: str = "") -> str:
    """HTML of one run from its folder (``state.json``, ``trajectory.jsonl``, ``patch.diff``)."""
    state = json.loads(_read(run_dir, "state.json") or "{}")
    trajectory = _read(run_dir, "trajectory.jsonl")
    steps = [json.loads(s) for s in trajectory.splitlines() if s.strip().startswith("{")]
    m = run_metrics({}, trajectory, json.dumps(state) if state else None)
    chosen = {s.get("digest") for s in steps if s.get("action") == "accept"}  # a viable candidate may be
    candidates = [s | {"chosen": bool(s["verdict"].get("accepted")) or s["patch"].get("digest") in chosen}
                  for s in steps if s.get("action") == "evaluate"]  # accepted later, by an accept step
    t0 = min((s["time"] for s in steps), default=0.0)
    t1 = max((s["time"] for s in steps), default=t0) or t0
    iters = []
    gens = [s for s in steps if s.get("action") == "generate"]
    for i, g in enumerate(gens):
        start = g["time"] - float(g.get("seconds", 0))
        end = gens[i + 1]["time"] - float(gens[i + 1].get("seconds", 0)) if i + 1 < len(gens) else t1
        cands = [c for c in candidates if c.get("iteration") == g.get("iteration")]
        iters.append({"n": g.get("iteration"), "start": start - t0, "seconds": max(end - start, 0.0),
                      "candidates": len(cands), "accepted": any(c["chosen"] for c in cands),
                      "generator": g.get("generator", "")})
    span = max(t1 - t0, 1e-6)
    return _env.get_template("run.html.j2").render(
        title=title or f"loopwright run {state.get('run_id', run_dir.name)}", back=back, state=state, m=m,
        iters=iters, span=span, candidates=candidates, patch=_read(run_dir, "patch.diff"))


def write_run_report(run_id: str, repo: Path, out: Path) -> Path:
    """Write the report of run ``run_id`` of ``repo`` to ``out``; returns ``out``.

    Raises:
        RunNotFound: no such run.
    """
    out.write_text(render_run(find_run_dir(Path(repo).resolve(), run_id)), encoding="utf-8")
    return out


def _bars(values: list[tuple[str, float]], width: int = 520, unit: str = "%") -> dict:
    """Horizontal bar chart geometry: label, value in [0, 1] → bar width in px."""
    return {"width": width, "height": 28 * len(values) + 10, "unit": unit,
            "bars": [{"label": k, "value": v, "w": round(v * (width - 210), 1), "y": 8 + 28 * i}
                     for i, (k, v) in enumerate(values)]}


def _strip(series: dict[str, list[float]], width: int = 520) -> dict:
    """Strip plot geometry of wall seconds per generator (one dot per task, linear axis)."""
    top = max([x for xs in series.values() for x in xs] + [1.0])
    return {"width": width, "height": 34 * len(series) + 30, "top": round(top, 1),
            "rows": [{"label": g, "y": 18 + 34 * i,
                      "dots": [round(150 + x / top * (width - 180), 1) for x in xs]}
                     for i, (g, xs) in enumerate(series.items())]}


def write_suite_report(suite, rows: list[dict], per_gen: dict[str, dict], timing: dict, out: Path) -> Path:
    """Write ``OUT/report.html`` and ``OUT/runs/<task>/<generator>/report.html`` for each run.

    Args:
        suite: the :class:`~evals.suite.Suite`. rows: its result rows.
        per_gen: generator spec -> :func:`~evals.metrics.summarize` output.
        timing: the eval's backend and wall/busy/overhead seconds.
    """
    gens = list(per_gen)
    for row in rows:
        run_dir = out / row.get("run_dir", f"runs/{slug(row['task_id'])}/{slug(row['generator'])}")
        if (run_dir / "state.json").is_file():
            (run_dir / "report.html").write_text(render_run(
                run_dir, f"{row['task_id']} — {row['generator']}", back="../../../report.html"), encoding="utf-8")
    by_task = {t.id: {g: None for g in gens} for t in suite.tasks}
    for row in rows:
        run_dir = out / row.get("run_dir", "")
        link = f"{row['run_dir']}/report.html" if (run_dir / "report.html").is_file() else ""
        by_task.setdefault(row["task_id"], {})[row["generator"]] = row | {"link": link}
    fixed_plot = _bars([(g, per_gen[g]["fixed_rate"] or 0.0) for g in gens])
    wall_plot = _strip({g: [r["wall_seconds"] for r in rows if r["generator"] == g and r.get("wall_seconds")]
                        for g in gens})
    html = _env.get_template("suite.html.j2").render(
        suite=suite, gens=gens, per_gen=per_gen, by_task=by_task, timing=timing, fixed_plot=fixed_plot,
        wall_plot=wall_plot, metric_rows=_METRIC_ROWS)
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


_METRIC_ROWS = [("tasks", "tasks"), ("fixed", "fixed"), ("fixed_rate", "fixed rate"),
                ("same_as_gold_rate", "same-as-gold rate"), ("iterations_per_fix", "iterations per fix"),
                ("candidates_per_fix", "candidates per fix"), ("model_calls", "model calls"),
                ("prompt_tokens", "prompt tokens"), ("completion_tokens", "completion tokens"),
                ("cost_usd", "cost (USD)"), ("wall_seconds_p50", "wall s p50"), ("wall_seconds_p90", "wall s p90"),
                ("test_seconds_p50", "test s p50"), ("test_seconds_p90", "test s p90"),
                ("safety_violations", "safety violations"), ("regressions_caught", "regressions caught"),
                ("context_recall", "context recall"), ("termination_reasons", "termination reasons"),
                ("stop_reasons", "stop reasons")]


def print_table(console, name: str, per_gen: dict[str, dict], timing: dict) -> None:
    """The suite metrics as a rich table, one column per generator, and the eval's own timing."""
    from rich.table import Table

    table = Table("metric", *per_gen, title=f"suite {name}")
    for key, label in _METRIC_ROWS:
        table.add_row(label, *[_fmt(per_gen[g].get(key)) for g in per_gen])
    console.print(table)
    console.print(f"{timing['backend']}: {timing['ran']} run(s) now, {timing['resumed_from']} from an earlier "
                  f"eval; wall {timing['wall_seconds']:.1f}s, eval overhead {timing['overhead_seconds']:.1f}s")


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, dict):
        return ", ".join(f"{k} {n}" for k, n in sorted(v.items()))
    return f"{v:g}" if isinstance(v, float) else str(v)


_env.filters["fmt"] = _fmt
