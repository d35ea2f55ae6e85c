"""Settings, read once from the environment.

| variable | default | meaning |
|---|---|---|
| DIONYSUS_DB_PATH | <user data dir>/dionysus-mcp/dionysus.db | SQLite file (embedded store) |
| NEO4J_URI | unset | use Neo4j at this Bolt URI instead of SQLite |
| NEO4J_USERNAME / NEO4J_PASSWORD | neo4j / unset | Neo4j credentials |
| NEO4J_DATABASE | neo4j | Neo4j database name |
| DIONYSUS_LOG_LEVEL | WARNING | logging level (logs go to stderr) |
| DIONYSUS_MODEL | scripted | LLM behind the agents: scripted, openai:<model>, litellm:<model> |
| DIONYSUS_MODEL_TIMEOUT | 60 | seconds one model request may take (a hung endpoint fails after it) |
| DIONYSUS_MODEL_RETRIES | 2 | retries of a model request on 429/5xx/refused connection, honouring Retry-After |
| DIONYSUS_TEMPERATURE | unset | sampling temperature sent to the provider (0-2); unset = the provider's default |
| DIONYSUS_BASIN_HALF_LIFE | 3600 | seconds for a basin's activation to halve |
| AGENT_MEMORY_WINDOW | 3 | steps whose observations stay unpruned |
| DIONYSUS_OUTBOX_PATH | outbox.db beside DIONYSUS_DB_PATH | durable queue of trace writes the store could not take |
| DIONYSUS_HTTP_TOKEN | unset | bearer token (16+ characters, 8+ different); required to bind HTTP to a non-loopback address |
| DIONYSUS_HTTP_HEAD_TIMEOUT | 10 | seconds a client has to send a request's head (line and headers) |
| DIONYSUS_HTTP_BODY_TIMEOUT | 30 | seconds a client has to send a request's body once its head arrived |
| DIONYSUS_HTTP_MAX_CONNECTIONS | 500 | open HTTP connections at most (at most the open-file limit minus 100) |
| DIONYSUS_CODE_STEP_TIMEOUT | 10 | seconds one step of the manager's code may compute (0.1 to 25) |
| DIONYSUS_EMBEDDER | minilm | embedding model for recall by meaning: minilm (all-MiniLM-L6-v2, shipped in the package), wordllama (the `wordllama` extra), or none (lexical only) |
| DIONYSUS_TRACE_RETENTION_DAYS | unset (keep all) | a server deletes runs older than this at start and daily |
| DIONYSUS_MANAGER | code | the ConsciousnessManager: code (a CodeAgent; its code runs in a child process) or tool-calling (writes no code) |
| OPENAI_API_KEY / OPENAI_BASE_URL | unset | the key and endpoint of DIONYSUS_MODEL=openai:<model> |

The secrets (NEO4J_PASSWORD, DIONYSUS_HTTP_TOKEN, OPENAI_API_KEY) are held as pydantic
`SecretStr`: read once here, never shown by a repr or a log line, unwrapped only where a client
needs them (the neo4j driver, the OpenAI client, the HTTP bearer check, the masking of traces).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr


def _data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("dionysus-mcp", appauthor=False))


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


def _float(env: dict[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} must be between {low} and {high}")
    return value


def _int(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} must be between {low} and {high}")
    return value


def _secret(raw: str | None) -> SecretStr | None:
    return SecretStr(raw) if raw else None


def reveal(secret: SecretStr | str | None) -> str | None:
    """The value, for the one client that needs it."""
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


# How long things wait for a cancelled or starting run, derived from one another here only.
RUN_STOP_WAIT_S = 30.0  # a cancelled run's agents get this long to reach a step boundary
CODE_STEP_TIMEOUT_MAX_S = RUN_STOP_WAIT_S - 5.0  # one step of the manager's code ends within that wait
BACKGROUND_STOP_WAIT_S = RUN_STOP_WAIT_S * 1.5  # a background run: the runner's wait, then its trace closing
STARTED_WAIT_S = RUN_STOP_WAIT_S  # how long a background start waits for the run's trace to be stored


NEO4J_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


def _neo4j_uri(raw: str | None) -> str | None:
    if not raw:
        return None
    scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
    if scheme not in NEO4J_SCHEMES:
        shown = re.sub(r"//[^/@]*@", "//", raw)  # never echo user:password@
        raise ConfigError(f"NEO4J_URI={shown!r} must start with {'://, '.join(NEO4J_SCHEMES)}:// (e.g. bolt://localhost:7687)")
    return raw


@dataclass(frozen=True)
class Settings:
    db_path: Path
    neo4j_uri: str | None = None
    neo4j_username: str = "neo4j"
    neo4j_password: SecretStr | None = field(default=None, repr=False)
    neo4j_database: str = "neo4j"
    log_level: str = "WARNING"
    model: str = "scripted"
    basin_half_life_s: float = 3600.0
    memory_window: int = 3
    outbox_path: Path | None = None
    http_token: SecretStr | None = field(default=None, repr=False)
    embedder: str = "minilm"
    trace_retention_days: float | None = None
    model_timeout_s: float = 60.0
    model_retries: int = 2
    temperature: float | None = None
    code_step_timeout_s: float = 10.0  # at most CODE_STEP_TIMEOUT_MAX_S, below the runner's stop wait
    manager: str = "code"  # code | tool-calling
    openai_api_key: SecretStr | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    # HTTP connection limits (surface/http/limits.py)
    http_head_timeout_s: float = 10.0
    http_body_timeout_s: float = 30.0
    http_max_connections: int = 500

    @property
    def backend(self) -> str:
        return "neo4j" if self.neo4j_uri else "sqlite"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        db_path = Path(env["DIONYSUS_DB_PATH"]) if env.get("DIONYSUS_DB_PATH") else _data_dir() / "dionysus.db"
        log_level = env.get("DIONYSUS_LOG_LEVEL", "WARNING").upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ConfigError(f"DIONYSUS_LOG_LEVEL={log_level!r} must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        outbox = env.get("DIONYSUS_OUTBOX_PATH")
        embedder = (env.get("DIONYSUS_EMBEDDER") or "minilm").strip().lower()
        if embedder not in ("minilm", "wordllama", "none"):
            raise ConfigError(f"DIONYSUS_EMBEDDER={embedder!r} must be minilm, wordllama or none")
        manager = (env.get("DIONYSUS_MANAGER") or "code").strip().lower()
        if manager not in ("code", "tool-calling"):
            raise ConfigError(f"DIONYSUS_MANAGER={manager!r} must be code or tool-calling")
        return cls(
            db_path=db_path.expanduser(),
            neo4j_uri=_neo4j_uri(env.get("NEO4J_URI")),
            neo4j_username=env.get("NEO4J_USERNAME") or "neo4j",
            neo4j_password=_secret(env.get("NEO4J_PASSWORD")),
            neo4j_database=env.get("NEO4J_DATABASE") or "neo4j",
            log_level=log_level,
            model=env.get("DIONYSUS_MODEL") or "scripted",
            basin_half_life_s=_float(env, "DIONYSUS_BASIN_HALF_LIFE", 3600.0, 1.0, 10 * 365 * 86400.0),
            memory_window=int(_float(env, "AGENT_MEMORY_WINDOW", 3, 1, 1000)),
            outbox_path=Path(outbox).expanduser() if outbox else db_path.expanduser().parent / "outbox.db",
            http_token=_secret(env.get("DIONYSUS_HTTP_TOKEN")),
            embedder=embedder,
            trace_retention_days=_float(env, "DIONYSUS_TRACE_RETENTION_DAYS", 0.0, 0.0, 36500.0) or None,
            model_timeout_s=_float(env, "DIONYSUS_MODEL_TIMEOUT", 60.0, 0.1, 3600.0),
            model_retries=_int(env, "DIONYSUS_MODEL_RETRIES", 2, 0, 10),
            temperature=_float(env, "DIONYSUS_TEMPERATURE", -1.0, 0.0, 2.0) if env.get("DIONYSUS_TEMPERATURE") else None,
            code_step_timeout_s=_float(env, "DIONYSUS_CODE_STEP_TIMEOUT", 10.0, 0.1, CODE_STEP_TIMEOUT_MAX_S),
            manager=manager,
            openai_api_key=_secret(env.get("OPENAI_API_KEY")),
            openai_base_url=env.get("OPENAI_BASE_URL") or None,
            http_head_timeout_s=_float(env, "DIONYSUS_HTTP_HEAD_TIMEOUT", 10.0, 0.1, 3600.0),
            http_body_timeout_s=_float(env, "DIONYSUS_HTTP_BODY_TIMEOUT", 30.0, 0.1, 3600.0),
            http_max_connections=_int(env, "DIONYSUS_HTTP_MAX_CONNECTIONS", 500, 8, 1_000_000),
        )
