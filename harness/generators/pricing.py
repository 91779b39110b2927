"""Model prices (USD per million tokens) from ``harness/data/prices.json``, and call costs.

An unknown model has no price: its cost is ``None`` and is shown as ``unknown``,
never guessed and never an error. A dated snapshot id (``claude-sonnet-4-5-20250929``,
``gpt-4.1-mini-2025-04-14``, ``...-latest``) takes its base id's price; any other
unlisted id (``gpt-4.1-nano`` when only ``gpt-4.1`` is listed) is unknown.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

_SNAPSHOT = re.compile(r"^(?P<base>.+?)-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


@dataclass(frozen=True)
class Price:
    """USD per million tokens: ``input`` (prompt) and ``output`` (completion)."""

    input: float
    output: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """USD for a call with these token counts."""
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


def load_prices(path: str | Path | None = None) -> dict[str, Price]:
    """Read a price table (the packaged ``prices.json`` when ``path`` is None).

    Returns:
        ``{model_id: Price}``.

    Raises:
        ValueError: the file is not valid JSON or an entry lacks ``input``/``output``
            numbers; the message names the file and the model.
    """
    if path is None:
        return dict(_packaged())
    return _parse(Path(path).read_text(encoding="utf-8"), str(path))


@functools.lru_cache(maxsize=1)
def _packaged() -> tuple[tuple[str, Price], ...]:
    text = resources.files("harness").joinpath("data").joinpath("prices.json").read_text("utf-8")
    return tuple(_parse(text, "harness/data/prices.json").items())


def _parse(text: str, where: str) -> dict[str, Price]:
    try:
        data = json.loads(text)
        models = data["models"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{where}: not a price table ({exc}); expected {{'models': {{...}}}}") from exc
    out = {}
    for model, entry in models.items():
        try:
            out[model] = Price(float(entry["input"]), float(entry["output"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"{where}: model {model!r} needs numeric 'input' and 'output' ({exc})"
            ) from None
    return out


def price_for(model: str, prices: dict[str, Price] | None = None) -> Price | None:
    """The price of ``model`` (exact id, else the base id of a dated snapshot), or None."""
    table = load_prices() if prices is None else prices
    if model in table:
        return table[model]
    m = _SNAPSHOT.match(model)
    return table.get(m.group("base")) if m else None


def cost_usd(
    model: str, input_tokens: int, output_tokens: int, prices: dict[str, Price] | None = None
) -> float | None:
    """USD for one call, or None when the model's price is unknown."""
    price = price_for(model, prices)
    return None if price is None else price.cost(input_tokens, output_tokens)


def format_cost(cost: float | None) -> str:
    """``$0.0123`` (4 decimals, more for tiny sums), or ``unknown``."""
    if cost is None:
        return "unknown"
    return f"${cost:.6f}" if 0 < cost < 0.0001 else f"${cost:.4f}"
