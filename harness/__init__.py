"""The engine: loop runner, work sources, context and fault localization, generators,
stop rules, run state and lessons, and the CLI."""

__version__ = "0.1.0"
