"""``--export-traces FILE``: one JSON record per run, schema ``trace.schema.json`` (version 1).

A record holds the run's identity and outcome, its metrics, every trajectory step with
its time, every evaluated candidate (diff and verdict), and the model exchanges
(prompt messages and outputs, from the run's cassette) when a model generator ran.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["SCHEMA_PATH", "TRACE_VERSION", "export_traces", "trace_record"]

TRACE_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("trace.schema.json")
_METRICS = ("iterations", "candidates", "model_calls", "prompt_tokens", "completion_tokens", "cost_usd",
            "wall_seconds", "test_seconds", "goal", "termination_reason", "safety_violations",
            "regressions_caught", "same_as_gold", "context_recall")


def _jsonl(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def trace_record(row: dict, run_dir: Path) -> dict:
    """The trace of one eval row whose run files are in ``run_dir`` (see the schema file)."""
    def read(name):
        return ((run_dir / name).read_text(encoding="utf-8") if (run_dir / name).is_file() else "")
    steps = _jsonl(read("trajectory.jsonl"))
    state = json.loads(read("state.json") or "{}")
    chosen = {s.get("digest") for s in steps if s.get("action") == "accept"}
    candidates = [{"iteration": s.get("iteration"), "time": s.get("time"),
                   "accepted": bool(s.get("verdict", {}).get("accepted")) or s["patch"].get("digest") in chosen,
                   "description": s["patch"].get("description", ""), "files": s["patch"].get("files", []),
                   "diff": s["patch"].get("diff", ""), "verdict": s.get("verdict", {})}
                  for s in steps if s.get("action") == "evaluate"]
    exchanges = [{"request": {"provider": e["request"].get("provider"), "model": e["request"].get("model"),
                              "system": e["request"].get("system", ""), "messages": e["request"].get("messages", [])},
                  "response": {k: e["response"].get(k) for k in ("text", "input_tokens", "output_tokens",
                                                                 "stop_reason", "latency")}}
                 for e in _jsonl(read("cassette.jsonl")) if "request" in e and "response" in e]
    return {
        "version": TRACE_VERSION,
        "task_id": row["task_id"], "generator": row["generator"], "command": row.get("command", ""),
        "run_id": state.get("run_id") or (row.get("summary") or {}).get("run_id", ""),
        "status": row.get("status", ""), "fixed": bool(row.get("fixed")),
        "stop_reason": row.get("stop_reason", ""),
        "metrics": {k: row.get(k) for k in _METRICS},
        "timing": {"started": row.get("started"), "ended": row.get("ended"),
                   "task_seconds": row.get("task_seconds"), "harness_seconds": row.get("harness_seconds")},
        "steps": [{"step": s.get("step"), "time": s.get("time"), "action": s.get("action"),
                   "data": {k: v for k, v in s.items() if k not in ("step", "time", "action", "patch", "verdict")}}
                  for s in steps],
        "candidates": candidates,
        "exchanges": exchanges,
        "patch": read("patch.diff"),
    }


def export_traces(rows: list[dict], out: Path, path: Path) -> int:
    """Write :func:`trace_record` of every row to ``path`` (JSONL); returns the number written."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(trace_record(row, out / row.get("run_dir", "")), default=str) + "\n")
            n += 1
    return n
