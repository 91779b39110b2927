"""Candidates for a file that does not parse: small token edits at the syntax error.

The AST mutation operators need a tree, so a file with a syntax error used to get no
candidate at all. Here each edit below is tried on the line ``compile`` names (and
the suspicious lines asked for, and the line before the error, where a missing
bracket or colon usually is), and kept only when the whole file then parses:

- add a missing ``:`` at the end of a block header (``def``, ``if``, ``for``, …);
- close an unbalanced ``(``/``[``/``{`` or string quote at the end of the line, or
  drop an unmatched closing bracket;
- ``=`` → ``==`` in a condition, ``==`` → ``=`` in an assignment statement;
- re-indent the line to its neighbour's indentation;
- delete the character the parser points at.

The repair operators follow the common single-token error classes of Santos et al.,
"Syntax and Sensibility: Using language models to detect and correct syntax errors"
(SANER 2018): insertion, deletion and substitution of one token.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from harness.generators.mutant import Mutant

#: prior of a syntax repair next to the AST operators' (see ``OPERATOR_PRIORS``):
#: when the file does not parse, these are the only candidates there are.
SYNTAX_PRIOR = 0.6
_HEADER = re.compile(r"^\s*(async\s+def|def|class|if|elif|else|for|async\s+for|while|try|except|finally|with|"
                     r"async\s+with|match|case)\b")
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def _error(source: str) -> SyntaxError | None:
    try:
        ast.parse(source)
    except SyntaxError as exc:
        return exc
    except ValueError:
        return None
    return None


def _line_edits(text: str, offset: int | None, indents: list[str]) -> Iterable[tuple[str, str]]:
    """(new line text, description) for one line (without its newline)."""
    code, _, comment = text.partition("#") if '"' not in text and "'" not in text else (text, "", "")
    body = code.rstrip()
    tail = text[len(body):]
    if _HEADER.match(body) and not body.endswith(":"):
        yield body + ":" + tail, "add the missing `:`"
    if body.endswith(":") and not _HEADER.match(body):
        yield body[:-1] + tail, "drop the stray `:`"
    depth: list[str] = []
    for ch in body:
        if ch in _PAIRS:
            depth.append(ch)
        elif ch in _PAIRS.values():
            if depth and _PAIRS[depth[-1]] == ch:
                depth.pop()
            else:
                i = body.rfind(ch)
                yield body[:i] + body[i + 1:] + tail, f"drop the unmatched `{ch}`"
                break
    if depth:
        closing = "".join(_PAIRS[char] for char in reversed(depth))
        if body.endswith(":"):
            yield body[:-1] + closing + ":" + tail, f"close with `{closing}`"
        yield body + closing + tail, f"close with `{closing}`"
    for quote in ('"', "'"):
        if body.count(quote) % 2:
            yield body + quote + tail, f"close the string with `{quote}`"
    if re.match(r"^\s*(if|elif|while)\b", body) and re.search(r"[^=!<>]=[^=]", body):
        yield re.sub(r"(?<=[^=!<>])=(?=[^=])", "==", body, count=1) + tail, "`=` -> `==` in the condition"
    if re.match(r"^\s*[\w.\[\]]+\s*==[^=]", body):
        yield body.replace("==", "=", 1) + tail, "`==` -> `=` in the assignment"
    stripped = text.lstrip()
    for ind in dict.fromkeys(indents):
        if text[: len(text) - len(stripped)] != ind:
            yield ind + stripped, f"indent to {len(ind)} columns"
    if offset and 0 < offset <= len(text):
        yield text[: offset - 1] + text[offset:], f"delete `{text[offset - 1]}`"


def syntax_repairs(path: str, source: str, lines: Iterable[int]) -> list[Mutant]:
    """Candidates that make ``source`` (which does not parse) parse again.

    Args:
        path: repo-relative POSIX path, copied into each mutant.
        source: the file text.
        lines: 1-based suspicious lines; the line of the syntax error and the one
            before it are tried first.

    Returns:
        :class:`Mutant` objects (operator ``syntax``), each changing one line, whose
        new text parses; ``[]`` when ``source`` parses or no edit helps.
    """
    err = _error(source)
    if err is None or not err.lineno:
        return []
    text_lines = source.splitlines(keepends=True)
    wanted = list(dict.fromkeys([err.lineno, err.lineno - 1, *(int(line_no) for line_no in lines)]))
    starts = [0]
    for ln in text_lines:
        starts.append(starts[-1] + len(ln))
    out: list[Mutant] = []
    seen: set[str] = set()
    for line_no in wanted:
        if not 1 <= line_no <= len(text_lines):
            continue
        raw = text_lines[line_no - 1]
        line = raw.rstrip("\r\n")
        near = [text_lines[i].rstrip("\r\n") for i in (line_no - 2, line_no) if 0 <= i < len(text_lines)]
        indents = [ln[: len(ln) - len(ln.lstrip())] for ln in near if ln.strip()]
        if line_no >= 2 and text_lines[line_no - 2].rstrip().endswith(":"):
            indents.append(indents[0] + "    " if indents else "    ")
        for new, what in _line_edits(line, err.offset if line_no == err.lineno else None, indents):
            if new == line or new in seen:
                continue
            seen.add(new)
            start, end = starts[line_no - 1], starts[line_no - 1] + len(line)
            if _error(source[:start] + new + source[end:]) is None:
                out.append(Mutant("syntax", path, line_no, f"line {line_no}: {what}", source, start, end, new,
                                  (start, len(source) - end, new)))
    return out
