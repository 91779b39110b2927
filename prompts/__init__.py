"""What the model is told: prompt templates as files (Jinja2 Markdown) and their renderer.

Templates live next to this file (``*.md.j2``) and are rendered with
:func:`prompts.render.render`.
"""

from prompts.render import render, template_names

__all__ = ["render", "template_names"]
