"""Redaction: secrets taken out of text loopwright sends to a model, posts, or reports.

Code under test decides what its failures say, so any process output (a test's
message, a traceback, stderr) may carry a secret it managed to read. Before such
text leaves loopwright (a model request, a pull-request comment, ``stop_detail``,
``failure_reasons``), :func:`redact` replaces

- the value of every variable of loopwright's own environment whose name looks secret
  (:data:`SECRET_NAME`: ``KEY``, ``TOKEN``, ``SECRET``, ``PASSWORD``, ``CREDENTIAL``, …;
  values of at least :data:`MIN_SECRET` characters, so ``1`` or ``true`` stay);
- token-shaped strings (:data:`TOKEN_PATTERNS`: GitHub ``gh[pousr]_…`` and
  ``github_pat_…``, OpenAI ``sk-…``, Anthropic ``sk-ant-…``, AWS ``AKIA…``, Slack
  ``xox[abprs]-…``, HTTP ``Authorization`` values, passwords in URLs)

by ``[REDACTED]``. Formats from the issuers' documentation: GitHub "About
authentication" (token prefixes), AWS IAM "access key ID" (``AKIA`` + 16), Slack
"token types". It is a last line of defence, not a guarantee: a secret that is
neither in the environment nor token-shaped (a private key file's body) is not found.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

MARK = "[REDACTED]"

#: Names of environment variables whose values are secrets.
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|PRIVATE", re.IGNORECASE)

#: Shortest environment value redacted (shorter ones would hit ordinary words).
MIN_SECRET = 8

TOKEN_PATTERNS: tuple[re.Pattern, ...] = tuple(re.compile(p) for p in (
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bsk-ant-[A-Za-z0-9_\-]{8,}",
    r"\bsk-[A-Za-z0-9_\-]{16,}",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    r"\bxox[abprs]-[A-Za-z0-9\-]{8,}",
    r"(?i)(?<=authorization:)\s*(?:bearer|basic|token)?\s*[A-Za-z0-9+/=_.\-]{8,}",
    r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)",  # user:password@ in a URL
))


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """Values of the secret-looking variables of ``env`` (default ``os.environ``), longest first."""
    src = os.environ if env is None else env
    found = {v for k, v in src.items() if SECRET_NAME.search(k) and len(v.strip()) >= MIN_SECRET}
    return sorted(found, key=len, reverse=True)


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with secrets replaced by :data:`MARK` (see the module docstring)."""
    return _redact_with(text, secret_values(env))


def redact_all(obj, env: Mapping[str, str] | None = None):
    """:func:`redact` on every string inside ``obj`` (dicts, lists, tuples; keys kept);
    other values are returned as they are. A new object: ``obj`` is not changed."""
    values = secret_values(env)

    def walk(o):
        if isinstance(o, str):
            return _redact_with(o, values)
        if isinstance(o, dict):
            return {k: walk(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return type(o)(walk(v) for v in o)
        return o

    return walk(obj)


def _redact_with(text: str, values: list[str]) -> str:
    if not text:
        return text
    for value in values:
        text = text.replace(value.strip(), MARK)
    for pattern in TOKEN_PATTERNS:
        text = pattern.sub(MARK, text)
    return text
