"""Secret masking: the values the process holds as credentials never reach a store.

The same rule serves every writer (trace persistence today): the values of environment
variables named like credentials, plus any secret the caller knows (the Neo4j password, the
HTTP token, a model's API key), are replaced by a mask wherever they appear in text.
"""

from __future__ import annotations

import json
import os
from typing import Any

MASK = "***"
MIN_SECRET = 6  # shorter "secrets" would mask ordinary words
SECRET_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_PASSWORD")
MAX_DEPTH = 6  # nesting kept when reducing tool arguments / answers to JSON



def environment_secrets() -> list[str]:
    """Every credential-looking variable, not only OpenAI's: litellm reads the provider's own
    (ANTHROPIC_API_KEY, GROQ_API_KEY, ...)."""
    return [value for name, value in os.environ.items() if name.endswith(SECRET_SUFFIXES)]


class Redactor:
    """Masks known secret values in text: never store an API key, even if a model echoed it."""

    def __init__(self, secrets: list[str | None]):
        self.secrets = sorted({s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET}, key=len, reverse=True)

    def text(self, value: str | None) -> str | None:
        if value is None:
            return None
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

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
