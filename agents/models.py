"""Model selection from `DIONYSUS_MODEL` (parsed and checked in agents/spec.py).

| spec | model |
|---|---|
| `scripted` (default) | the deterministic offline policy (agents/scripted.py) |
| `openai:<model>` | `ProviderModel` (agents/provider.py): smolagents' `OpenAIServerModel` with provider differences normalised; OpenAI or any compatible server (Ollama, vLLM, LM Studio) via `OPENAI_BASE_URL` / `OPENAI_API_KEY` |
| `litellm:<provider/model>` | smolagents `LiteLLMModel` (optional extra: `pip install 'dionysus-mcp[litellm]'`) |

Provider SDKs are imported only when their spec is chosen, so the default path needs none.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from smolagents.models import Model

from agents.spec import VALID_FORMS, ModelSpec, ModelSpecError, check_model, parse_model_spec

__all__ = ["VALID_FORMS", "ModelSpec", "ModelSpecError", "check_model", "create_model", "parse_model_spec", "provider_options"]


def provider_options(settings: object | None):
    """The timeout / retries / temperature of `Settings` (defaults without settings)."""
    from agents.provider import ProviderOptions

    if settings is None:
        return ProviderOptions()
    return ProviderOptions(
        timeout_s=getattr(settings, "model_timeout_s", 60.0),
        retries=getattr(settings, "model_retries", 2),
        temperature=getattr(settings, "temperature", None),
    )


def create_model(
    spec: str | ModelSpec | None,
    role: str,
    env: Mapping[str, str] | None = None,
    *,
    settings: object | None = None,
    cancelled: threading.Event | None = None,
) -> Model:
    """A fresh model for one agent. `role` picks the scripted policy; LLMs ignore it (the agent's
    prompt carries the role). `cancelled` (the run group's flag) stops a model call in flight."""
    env = os.environ if env is None else env
    key = getattr(settings, "openai_api_key", None)
    if key is not None:  # the settings' copy, read once at start (never printed: a SecretStr)
        env = {**env, "OPENAI_API_KEY": key.get_secret_value(), "OPENAI_BASE_URL": getattr(settings, "openai_base_url", None) or ""}
    parsed = check_model(spec.label if isinstance(spec, ModelSpec) else spec, env)
    if parsed.kind == "scripted":
        from agents.scripted import ScriptedModel

        return ScriptedModel(role)
    if parsed.kind == "openai":
        from agents.provider import ProviderModel

        return ProviderModel(
            parsed.name, env.get("OPENAI_BASE_URL") or None, env["OPENAI_API_KEY"], provider_options(settings), cancelled
        )
    from smolagents import LiteLLMModel

    return LiteLLMModel(model_id=parsed.name)
