"""Call capture for loopwright's pytest plugin: what named functions return on the tests' inputs.

Standard library only (it runs in the target interpreter, like
:mod:`loopwright_pytest`, which imports it when ``LOOPWRIGHT_CAPTURE`` names a JSON file
``{"targets": [{"path": repo-relative file, "name": qualified name}], "tests": [ids],
"calls": max calls kept per test, "chars": max characters per repr}``).

While one of ``tests`` runs, every call of a target function is recorded as
``[name, args, result]``: ``args`` the ``repr`` of its arguments as bound at the call,
``result`` ``"= " + repr(value)`` when it returns, ``"! ExceptionType"`` when an exception
leaves it. A ``repr`` is cut to ``chars`` characters and its object addresses
(``at 0x7f…``) are removed, so two runs of the same code give the same text. At most
``calls`` calls per test are kept (the first ones). A global trace function
(``sys.settrace``) hands a local tracer to the target frames only: the cost falls on those
tests alone.
"""

import os
import re
import sys

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class Capture:
    """The capture of one test session (see the module docstring for ``spec``)."""

    def __init__(self, spec, root):
        self.tests = set(spec.get("tests", []))
        self.limit = int(spec.get("calls", 200))
        self.chars = int(spec.get("chars", 200))
        self.targets = {}  # absolute path -> set of qualified names
        for t in spec.get("targets", []):
            path = os.path.realpath(os.path.join(root, t["path"]))
            self.targets.setdefault(path, set()).add(t["name"])
        self.files = {}  # co_filename -> its realpath's targets (None: not a target file)
        self.calls = {}  # test id -> [[name, args, result], ...]
        self.current = None

    def _repr(self, value):
        try:
            text = repr(value)
        except Exception as exc:  # a repr that raises is a fact about the value too
            text = f"<repr raised {type(exc).__name__}>"
        return _ADDRESS.sub("", text)[: self.chars]

    def switch(self, test_id):
        """Start recording for ``test_id`` when it is one of the tests; stop otherwise."""
        if test_id in self.tests:
            self.current = self.calls.setdefault(test_id, [])
            sys.settrace(self._global)
        else:
            self.current = None
            sys.settrace(None)

    def _names(self, code):
        fn = code.co_filename
        if fn not in self.files:
            self.files[fn] = self.targets.get(os.path.realpath(fn))
        return self.files[fn]

    def _global(self, frame, event, arg):
        names = self._names(frame.f_code)
        if not names or self.current is None or len(self.current) >= self.limit:
            return None
        code = frame.f_code
        name = getattr(code, "co_qualname", code.co_name)
        if (name not in names and code.co_name not in names) or code.co_flags & 0x2A0:
            return None  # not a target, or a generator or coroutine (its returns are its yields)
        count = code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)
        args = ", ".join(f"{v}={self._repr(frame.f_locals.get(v))}" for v in code.co_varnames[:count])
        record = [name, args, None]
        self.current.append(record)
        state = {"raised": None}

        def local(frame, event, arg):
            if event == "exception":
                state["raised"] = arg[0].__name__
            elif event == "line":
                state["raised"] = None  # caught inside: execution went on
            elif event == "return":
                record[2] = f"! {state['raised']}" if state["raised"] else f"= {self._repr(arg)}"
            return local

        return local

    def stop(self):
        """Stop tracing; the calls recorded, test id -> list of ``[name, args, result]``."""
        sys.settrace(None)
        return {t: [c for c in calls if c[2] is not None] for t, calls in self.calls.items()}
