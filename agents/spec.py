"""`DIONYSUS_MODEL` parsed and checked without importing smolagents or a provider SDK, so the
command line can refuse an unusable model at `serve` start (one line, exit 1) while start-up
stays light.

| spec | model |
|---|---|
| `scripted` (default) | the deterministic offline policy (agents/scripted.py) |
| `openai:<model>` | any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, LM Studio) via `OPENAI_BASE_URL` / `OPENAI_API_KEY` |
| `litellm:<provider/model>` | smolagents `LiteLLMModel` (optional extra: `pip install 'dionysus-mcp[litellm]'`) |
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from dionysus_mcp.config import ConfigError
from dionysus_mcp.errors import DionysusError

VALID_FORMS = "scripted, openai:<model> (e.g. openai:gpt-4o-mini) or litellm:<provider/model>"
PROVIDERS = ("openai", "litellm")


class ModelSpecError(ConfigError, DionysusError):
    """DIONYSUS_MODEL (or what it needs) is unusable; the message says what to set."""


@dataclass(frozen=True)
class ModelSpec:
    kind: str  # scripted | openai | litellm
    name: str = ""

    @property
    def label(self) -> str:
        """How results name the model that ran."""
        return self.kind if self.kind == "scripted" else f"{self.kind}:{self.name}"


def parse_model_spec(spec: str | None) -> ModelSpec:
    raw = (spec or "scripted").strip()
    if raw.lower() == "scripted":
        return ModelSpec("scripted")
    kind, sep, name = raw.partition(":")
    kind, name = kind.strip().lower(), name.strip()
    if sep and kind in PROVIDERS and name:
        return ModelSpec(kind, name)
    if sep and kind and name and kind not in PROVIDERS:
        raise ModelSpecError(f"DIONYSUS_MODEL={raw!r}: unknown provider {kind!r}; use {VALID_FORMS}")
    raise ModelSpecError(f"DIONYSUS_MODEL={raw!r} is not a model spec; use {VALID_FORMS}")


def check_model(spec: str | None, env: Mapping[str, str]) -> ModelSpec:
    """Everything about the model that can be known before the first call: the spec, the API
    key, the base URL's form, the optional package."""
    parsed = parse_model_spec(spec)
    if parsed.kind == "openai":
        if not env.get("OPENAI_API_KEY"):
            raise ModelSpecError(
                f"DIONYSUS_MODEL=openai:{parsed.name} needs OPENAI_API_KEY; for a local server (Ollama, vLLM, "
                "LM Studio) set it to any non-empty value and OPENAI_BASE_URL to the server's /v1 URL"
            )
        base = env.get("OPENAI_BASE_URL")
        if base:
            parts = urlsplit(base)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ModelSpecError(f"OPENAI_BASE_URL={base!r} is not an http(s) URL; e.g. http://127.0.0.1:11434/v1")
    if parsed.kind == "litellm" and importlib.util.find_spec("litellm") is None:
        raise ModelSpecError(
            f"DIONYSUS_MODEL=litellm:{parsed.name} needs the litellm package: pip install 'dionysus-mcp[litellm]'"
        )
    return parsed
