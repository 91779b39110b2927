"""What loops exist: LSS 1.0 loop declarations (``*.yaml``) and their loader/validator.

``load_spec(path)`` and ``builtin_spec(name)`` return a validated :class:`LoopSpec`
or raise :class:`SpecError` with ``FILE:LINE: field.path: problem (fix)`` lines.
This room imports nothing from the rest of loopwright.
"""

from loops.spec import Limits, LoopSpec, SpecError, builtin_names, builtin_spec, load_spec

__all__ = ["Limits", "LoopSpec", "SpecError", "builtin_names", "builtin_spec", "load_spec"]
