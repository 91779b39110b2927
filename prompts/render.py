"""Render the prompt templates shipped in the ``prompts`` package.

Templates are Jinja2 Markdown files loaded with ``importlib.resources`` (so they work
from a wheel as well as a checkout) and rendered with ``StrictUndefined``: a
variable the caller forgot is an error, never a silently empty section.
"""

from __future__ import annotations

import functools
from importlib import resources

import jinja2

_PACKAGE = "prompts"


def _load(name: str) -> str | None:
    node = resources.files(_PACKAGE).joinpath(name)
    return node.read_text(encoding="utf-8") if node.is_file() else None


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **values: object) -> str:
    """Render template ``name`` (e.g. ``"system.md.j2"``) with ``values``.

    Returns:
        The text without leading/trailing blank lines, ending in one newline. Blank
        lines inside are kept as written (code snippets must stay verbatim).

    Raises:
        jinja2.TemplateNotFound: no such template in the package.
        jinja2.UndefinedError: the template uses a variable not in ``values``.
    """
    text = _env().get_template(name).render(**values)
    return text.strip("\n") + "\n"


def template_names() -> list[str]:
    """The ``*.j2`` templates shipped in the package, sorted."""
    return sorted(p.name for p in resources.files(_PACKAGE).iterdir() if p.name.endswith(".j2"))
