"""Record and replay model exchanges (cassettes), so model-driven runs are reproducible.

A cassette is JSONL: one line per successful model call,
``{"request": {provider, model, system, messages, max_tokens, temperature},
"response": {text, input_tokens, output_tokens, stop_reason, model, id, latency,
attempts, retries, raw}}``. Recording wraps a live generator's ``exchange``
(request -> response); replaying replaces it with the cassette, so prompt building,
edit parsing and usage accounting run exactly as they did live and produce
identical Proposals (usage included: tokens, cost and the recorded latency).

Exchanges are matched in order, per ``provider:model`` (a cassette may hold a
chain's several models). A request that differs from the recorded one, or one
beyond the end of the cassette, raises :class:`GeneratorError` naming the
exchange and the first differing field, with a short diff; there is no fallback
to a live call.
"""

from __future__ import annotations

import difflib
import json
import threading
from collections.abc import Callable
from pathlib import Path

from harness.core.protocols import GeneratorError
from harness.generators.llm import LLMGenerator

_truncated: set[Path] = set()  # cassettes this process has started writing
_lock = threading.Lock()


def load_cassette(path: str | Path) -> list[dict]:
    """The exchanges of a cassette, in order.

    Raises:
        GeneratorError: the file is missing, a line is not JSON, or an exchange lacks
            ``request``/``response``; the message names the file and line.
    """
    p = Path(path)
    if not p.is_file():
        raise GeneratorError(f"cassette {p} not found; record one with --record {p}")
    out = []
    try:
        text = p.read_bytes().decode("utf-8")
    except OSError as exc:
        raise GeneratorError(f"cassette {p}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise GeneratorError(f"cassette {p}: not UTF-8 text (byte {exc.start}: {exc.reason}); "
                             "record it again") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise GeneratorError(f"cassette {p}, line {n}: not JSON ({exc})") from None
        if not isinstance(item, dict) or not isinstance(item.get("request"), dict) \
                or not isinstance(item.get("response"), dict):
            raise GeneratorError(f"cassette {p}, line {n}: expected an object with 'request' and "
                                 "'response' objects; record it again")
        for key in ("input_tokens", "output_tokens"):
            value = item["response"].get(key, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise GeneratorError(f"cassette {p}, line {n}: response.{key} is {value!r}, not a "
                                     "token count; record it again")
        resp = item["response"]
        if not isinstance(resp.get("latency", 0.0), (int, float)) or isinstance(resp.get("latency"), bool) \
                or not isinstance(resp.get("retries", []), list):
            raise GeneratorError(f"cassette {p}, line {n}: response.latency must be a number and "
                                 "response.retries a list; record it again")
        out.append(item)
    return out


class Recorder:
    """An ``exchange`` that calls ``inner`` and appends each exchange to ``path``.

    The first Recorder for a path in a process truncates it (one run, one cassette);
    later ones (a chain's other generators) append.
    """

    def __init__(self, inner: Callable[[dict], dict], path: str | Path) -> None:
        self.inner = inner
        self.path = Path(path)
        with _lock:
            key = self.path.resolve()
            if key not in _truncated:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_text("", encoding="utf-8")
                _truncated.add(key)

    def __call__(self, request: dict) -> dict:
        response = self.inner(request)
        line = json.dumps({"request": request, "response": response}, sort_keys=True)
        with _lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        return response


class Player:
    """An ``exchange`` that answers from a cassette, for one ``provider:model``."""

    def __init__(self, path: str | Path, provider: str, model: str) -> None:
        self.path = Path(path)
        self.exchanges = [
            (n, ex)
            for n, ex in enumerate(load_cassette(path), 1)
            if (ex["request"].get("provider"), ex["request"].get("model")) == (provider, model)
        ]
        self.label = f"{provider}:{model}"
        self.index = 0

    def __call__(self, request: dict) -> dict:
        if self.index >= len(self.exchanges):
            raise GeneratorError(
                f"cassette {self.path}: the run made a {self.label} call #{self.index + 1} but "
                f"only {len(self.exchanges)} were recorded; record the run again"
            )
        n, recorded = self.exchanges[self.index]
        # compare through JSON so tuples/lists and key order do not matter
        now = json.loads(json.dumps(request))
        where = first_difference(recorded["request"], now)
        if where is not None:
            path, old, new = where
            raise GeneratorError(
                f"cassette {self.path}, exchange {n}: the request differs from the recording "
                f"at {path or 'the top level'}:\n{short_diff(old, new)}\n"
                "The code, prompts or repository changed since recording; record again"
            )
        self.index += 1
        return dict(recorded["response"])


def first_difference(old: object, new: object, path: str = "") -> tuple[str, object, object] | None:
    """``(path, old_value, new_value)`` of the first difference (``messages[2].content``),
    or None when equal."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                return sub, old.get(key, "<absent>"), new.get(key, "<absent>")
            found = first_difference(old[key], new[key], sub)
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list):
        for i, (a, b) in enumerate(zip(old, new)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        if len(old) != len(new):
            return f"{path} (length)", len(old), len(new)
        return None
    return None if old == new else (path, old, new)


def short_diff(old: object, new: object, limit: int = 12) -> str:
    """A few lines showing how ``new`` differs from ``old`` (unified diff for text)."""
    if isinstance(old, str) and isinstance(new, str):
        lines = list(
            difflib.unified_diff(
                old.splitlines(), new.splitlines(), "recorded", "now", n=1, lineterm=""
            )
        )
        if len(lines) > limit:
            lines = lines[:limit] + [f"... ({len(lines) - limit} more diff lines)"]
        return "\n".join(lines)
    return f"recorded: {json.dumps(old)[:200]}\nnow:      {json.dumps(new)[:200]}"


def record(generator: LLMGenerator, path: str | Path) -> LLMGenerator:
    """Make ``generator`` append every exchange to the cassette ``path``; returns it."""
    generator.exchange = Recorder(generator.exchange, path)
    return generator


def replay(generator: LLMGenerator, path: str | Path) -> LLMGenerator:
    """Make ``generator`` answer from the cassette ``path`` instead of the network.

    Raises:
        GeneratorError: the cassette is missing or unreadable, or holds no exchange
            for the generator's ``provider:model``.
    """
    player = Player(path, generator.provider, generator.model)
    if not player.exchanges:
        models = sorted({_label(ex) for ex in load_cassette(path)})
        raise GeneratorError(
            f"cassette {path} has no exchange for {generator.name}; it holds: "
            f"{', '.join(models) or 'nothing'}"
        )
    generator.exchange = player
    return generator


def cassette_models(path: str | Path) -> list[tuple[str, str]]:
    """The ``(provider, model)`` pairs in a cassette, in order of first use."""
    seen: list[tuple[str, str]] = []
    for ex in load_cassette(path):
        key = (str(ex["request"].get("provider")), str(ex["request"].get("model")))
        if key not in seen:
            seen.append(key)
    return seen


def _label(ex: dict) -> str:
    return f"{ex['request'].get('provider')}:{ex['request'].get('model')}"
