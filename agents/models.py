"""Model selection from `DIONYSUS_MODEL`.

| spec | model |
|---|---|
| `scripted` (default) | the deterministic offline policy (agents/scripted.py) |
| `openai:<model>` | smolagents `OpenAIServerModel`: OpenAI or any compatible server (Ollama, vLLM, LM Studio) via `OPENAI_BASE_URL` / `OPENAI_API_KEY` |
| `litellm:<provider/model>` | smolagents `LiteLLMModel` (optional extra: `pip install 'dionysus-mcp[litellm]'`) |

Provider SDKs are imported only when their spec is chosen, so the default path needs none.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass

from smolagents.models import Model

from dionysus_mcp.config import ConfigError
from dionysus_mcp.errors import DionysusError

VALID_FORMS = "scripted, openai:<model> (e.g. openai:gpt-4o-mini) or litellm:<provider/model>"


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
    if sep and kind in ("openai", "litellm") and name:
        return ModelSpec(kind, name)
    raise ModelSpecError(f"DIONYSUS_MODEL={raw!r} is not a model spec; use {VALID_FORMS}")


def create_model(spec: str | ModelSpec | None, role: str, env: Mapping[str, str] | None = None) -> Model:
    """A fresh model for one agent. `role` picks the scripted policy; LLMs ignore it (the agent's
    prompt carries the role)."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec)
    env = os.environ if env is None else env
    if parsed.kind == "scripted":
        from agents.scripted import ScriptedModel

        return ScriptedModel(role)
    if parsed.kind == "openai":
        return _openai(parsed.name, env)
    return _litellm(parsed.name)


def _openai(name: str, env: Mapping[str, str]) -> Model:
    from smolagents import OpenAIServerModel

    api_key = env.get("OPENAI_API_KEY")
    if not api_key:
        raise ModelSpecError(
            f"DIONYSUS_MODEL=openai:{name} needs OPENAI_API_KEY; for a local server (Ollama, vLLM, "
            "LM Studio) set it to any non-empty value and OPENAI_BASE_URL to the server's /v1 URL"
        )
    return OpenAIServerModel(model_id=name, api_base=env.get("OPENAI_BASE_URL") or None, api_key=api_key)


def _litellm(name: str) -> Model:
    if importlib.util.find_spec("litellm") is None:
        raise ModelSpecError(
            f"DIONYSUS_MODEL=litellm:{name} needs the litellm package: pip install 'dionysus-mcp[litellm]'"
        )
    from smolagents import LiteLLMModel

    return LiteLLMModel(model_id=name)
