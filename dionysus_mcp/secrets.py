"""Secrets are never stored: the one place that knows what they are and masks them in text.

The secrets a process knows are its settings' credentials (the Neo4j password, the HTTP token)
and the value of every environment variable named `*_API_KEY`, `*_TOKEN`, `*_SECRET` or
`*_PASSWORD` (litellm reads each provider's own: ANTHROPIC_API_KEY, GROQ_API_KEY, ...).
Traces (callbacks/trace.py) and the services that write memories, wisdom and MOSAEIC captures
mask them, so a key pasted into a context, or echoed by a model, is stored as `***`.

How much of a secret must match (short values would otherwise mask ordinary words: a
one-character password turned "Examples" into "E***amples"):
- 8 characters or more: masked wherever it appears;
- 4 to 7 characters: masked only as a whole token (not touching a letter, digit or `_`);
- under 4 characters: not masked (no such value can be told apart from ordinary text).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import SecretStr

MASK = "***"
MIN_ANYWHERE = 8
MIN_TOKEN = 4
SECRET_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_PASSWORD")
MAX_DEPTH = 6  # nesting kept when reducing values to JSON


def environment_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    return [value for name, value in env.items() if name.upper().endswith(SECRET_SUFFIXES) and value]


class Redactor:
    """Masks known secret values in text (see the module's rule for short ones)."""

    def __init__(self, secrets: Iterable[SecretStr | str | None]):
        values = [s.get_secret_value() if isinstance(s, SecretStr) else s for s in secrets]
        known = sorted({s for s in values if isinstance(s, str) and len(s) >= MIN_TOKEN}, key=len, reverse=True)
        self.secrets = known
        parts = [re.escape(s) if len(s) >= MIN_ANYWHERE else rf"(?<!\w){re.escape(s)}(?!\w)" for s in known]
        self._pattern = re.compile("|".join(parts)) if parts else None

    def text(self, value: str | None) -> str | None:
        if value is None or self._pattern is None:
            return value
        return self._pattern.sub(MASK, value)

    def plain(self, value: Any, depth: int = 0) -> Any:
        """JSON primitives only: strings masked, containers walked, any other object reduced to
        a placeholder naming its type (its repr could hold anything)."""
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return self.text(str(value))
        if depth < MAX_DEPTH and isinstance(value, dict):
            return {str(self.text(str(k))): self.plain(v, depth + 1) for k, v in value.items()}
        if depth < MAX_DEPTH and isinstance(value, (list, tuple)):
            return [self.plain(v, depth + 1) for v in value]
        return f"<{type(value).__name__}>"

    def as_text(self, value: Any) -> str | None:
        """A step's or run's output as text: strings as they are, anything else as JSON."""
        if value is None:
            return None
        if isinstance(value, str):
            return self.text(str(value))
        return json.dumps(self.plain(value), ensure_ascii=False, sort_keys=True)


class ProcessSecrets:
    """The secrets of this process, for the services: the fixed ones given at start plus the
    environment's credential variables, re-read at each use (a key set after start counts)."""

    def __init__(self, fixed: Iterable[SecretStr | str | None] = (), env: Mapping[str, str] | None = None):
        self.fixed = [s.get_secret_value() if isinstance(s, SecretStr) else s for s in fixed if s]
        self.env = env
        self._key: tuple[str, ...] | None = None
        self._redactor = Redactor([])

    def redactor(self) -> Redactor:
        key = tuple(sorted({*self.fixed, *environment_secrets(self.env)}))
        if key != self._key:
            self._key, self._redactor = key, Redactor(key)
        return self._redactor

    def mask(self, text: str) -> str:
        return self.redactor().text(text) or ""
