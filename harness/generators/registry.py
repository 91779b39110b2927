"""Build an LLM generator from a ``PROVIDER:MODEL`` spec and the environment.

Specs: ``openai:MODEL``, ``anthropic:MODEL`` (``openai`` / ``anthropic`` alone use
:data:`DEFAULT_MODELS`), ``replay:FILE`` (provider and model read from the
cassette). ``templates`` (the offline repairer) and chains (``templates,openai:M``)
are resolved by the loop, not here.

Environment: ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``ANTHROPIC_API_KEY``,
``ANTHROPIC_BASE_URL``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the model stack (tenacity, the prompts) loads only when a model generator is built
    from harness.core.protocols import Generator
    from harness.generators.llm import LLMGenerator

#: provider -> (module, class); imported on use (the SDKs take seconds to import).
PROVIDERS = {
    "openai": ("harness.generators.openai_gen", "OpenAIGenerator"),
    "anthropic": ("harness.generators.anthropic_gen", "AnthropicGenerator"),
}
DEFAULT_MODELS = {"openai": "gpt-5-mini", "anthropic": "claude-sonnet-4-6"}
KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
BASE_URL_ENV = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL"}
VALID_SPECS = "templates, openai:MODEL, anthropic:MODEL, replay:FILE"


def provider_class(provider: str) -> type[LLMGenerator]:
    """The generator class of ``provider`` (``openai`` or ``anthropic``).

    Raises:
        ValueError: an unknown provider; the message lists the valid specs.
    """
    if provider not in PROVIDERS:
        raise ValueError(f"unknown generator {provider!r}; valid: {VALID_SPECS}")
    module, name = PROVIDERS[provider]
    return getattr(importlib.import_module(module), name)


# Over 60 lines: a third is the docstring; the rest is one spec's checks in order (chain,
# record/replay, provider, key), each with its own message.
def make_generator(
    spec: str,
    *,
    record: str | None = None,
    replay: str | None = None,
    base_url: str | None = None,
    env: Mapping[str, str] | None = None,
    **options,
) -> LLMGenerator:
    """The generator for ``spec``.

    Args:
        spec: ``openai:MODEL``, ``anthropic:MODEL`` or ``replay:FILE``.
        record: cassette path to write every exchange to (a live run).
        replay: cassette path to answer from instead of the network (no key needed).
        base_url: API root overriding ``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL``.
        env: environment to read keys and URLs from (default ``os.environ``).
        **options: generator options (``max_tokens``, ``max_context_tokens``,
            ``max_malformed``, ``temperature``, ``retry``, ``prices``, ``timeout``...).

    Raises:
        ValueError: an unknown provider (the message lists valid specs), ``templates``
            or a chain (built by the loop), ``record`` with ``replay``, a missing API
            key, or a ``replay:FILE`` cassette holding several models.
        GeneratorError: a cassette that is missing, unreadable, or has no exchange
            for the model.
    """
    from harness.generators.replay import cassette_models
    from harness.generators.replay import record as record_to
    from harness.generators.replay import replay as replay_from

    env = os.environ if env is None else env
    spec = spec.strip()
    if "," in spec:
        raise ValueError(f"{spec!r} is a chain; build each part separately (the loop chains them)")
    provider, _, rest = spec.partition(":")
    provider = provider.strip().lower()
    if record and replay:
        raise ValueError("--record and --replay cannot be used together")
    if provider == "replay":
        replay = rest or replay
        if not replay:
            raise ValueError("replay needs a cassette: replay:FILE")
        if record:
            raise ValueError("--record cannot be used with replay:FILE")
        models = cassette_models(replay)
        if len(models) != 1:
            listed = ", ".join(f"{p}:{m}" for p, m in models) or "none"
            raise ValueError(
                f"cassette {replay} holds {len(models)} models ({listed}); choose one with "
                f"--model PROVIDER:MODEL --replay {replay}"
            )
        provider, rest = models[0]
    if provider == "templates":
        raise ValueError("'templates' is the built-in offline generator; the loop builds it")
    if provider not in PROVIDERS:
        raise ValueError(f"unknown generator {provider!r} in {spec!r}; valid: {VALID_SPECS}")
    cls = provider_class(provider)
    model = rest.strip() or DEFAULT_MODELS[provider]
    base = base_url or env.get(BASE_URL_ENV[provider]) or None
    if replay:
        gen = cls(model, api_key="replay", base_url=base, **options)
        return replay_from(gen, replay)
    key = env.get(KEY_ENV[provider]) or None
    if key is None and (provider == "anthropic" or base is None):
        raise ValueError(
            f"{KEY_ENV[provider]} is not set: export it to use {provider}:{model}, "
            "or run offline with --model templates"
        )
    gen = cls(model, api_key=key or "", base_url=base, **options)
    return record_to(gen, record) if record else gen


def default_generator_spec(env: Mapping[str, str] | None = None) -> str:
    """``openai:<default>`` if ``OPENAI_API_KEY`` is set, else ``anthropic:<default>`` if
    ``ANTHROPIC_API_KEY`` is, else ``templates`` (offline)."""
    env = os.environ if env is None else env
    for provider in ("openai", "anthropic"):
        if env.get(KEY_ENV[provider]):
            return f"{provider}:{DEFAULT_MODELS[provider]}"
    return "templates"


def unpriced_models(generator: Generator) -> list[str]:
    """``provider:model`` names of the model generators in ``generator`` (a chain's members
    included) whose price per token is unknown: ``--max-cost`` cannot bound them."""
    llm = sys.modules.get("harness.generators.llm")
    if llm is None:  # no model generator exists before its module is loaded: an offline run loads none
        return []
    from harness.generators.chain import ChainGenerator
    from harness.generators.pricing import price_for

    members = generator.generators if isinstance(generator, ChainGenerator) else [generator]
    return [g.name for g in members
            if isinstance(g, llm.LLMGenerator) and price_for(g.model, g.prices) is None]
