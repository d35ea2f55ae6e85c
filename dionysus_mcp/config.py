"""Settings, read once from the environment: one pydantic model, each field named by its
variable, with its default, limits, a line for `--help` and a paragraph for the README.

`dionysus-mcp --help`'s environment section and the README's configuration table are generated
from this model (dionysus_mcp/settings_docs.py; `scripts/docs_tables.py` rewrites the README),
and tests/unit/test_settings_docs.py fails when the code reads a variable the model does not
document. A value we cannot use is one line naming the variable
(`AGENT_MEMORY_WINDOW='3.7' is not a whole number`).

The secrets (NEO4J_PASSWORD, DIONYSUS_HTTP_TOKEN, OPENAI_API_KEY) are held as pydantic
`SecretStr`: read once here, never shown by a repr or a log line, unwrapped only where a client
needs them (the neo4j driver, the OpenAI client, the HTTP bearer check, the masking of traces).

pydantic-settings was weighed and not taken: what it would add here is reading `os.environ`,
which `from_env` does in one line, while tests need to pass a mapping of their own (its
environment source reads only the process's), and every start would import it and python-dotenv.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError, field_validator


def _data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("dionysus-mcp", appauthor=False))


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


def reveal(secret: SecretStr | str | None) -> str | None:
    """The value, for the one client that needs it."""
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


# How long things wait for a cancelled or starting run, derived from one another here only.
RUN_STOP_WAIT_S = 30.0  # a cancelled run's agents get this long to reach a step boundary
CODE_STEP_TIMEOUT_MAX_S = RUN_STOP_WAIT_S - 5.0  # one step of the manager's code ends within that wait
BACKGROUND_STOP_WAIT_S = RUN_STOP_WAIT_S * 1.5  # a background run: the runner's wait, then its trace closing
STARTED_WAIT_S = RUN_STOP_WAIT_S  # how long a background start waits for the run's trace to be stored


NEO4J_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
LOG_LEVELS = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def _folded(how: Any) -> Any:
    return BeforeValidator(lambda v: how(v.strip()) if isinstance(v, str) else v)


def setting(
    env: str, default: Any = None, *, help: str, readme: str | None = None, shown: str | None = None, **field: Any
) -> Any:
    """A field read from `env`: `help` is its line in --help, `readme` its meaning in the README
    (the help line when not given), `shown` its default as the docs write it."""
    extra = {"help": help, "readme": readme or help, **({"shown": shown} if shown else {})}
    return Field(default, validation_alias=env, description=readme or help, json_schema_extra=extra, **field)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True, extra="forbid")

    # --- the store
    db_path: Path = setting(
        "DIONYSUS_DB_PATH", None, validate_default=True, shown="`~/.local/share/dionysus-mcp/dionysus.db`",
        help="SQLite file of the embedded store (default: user data dir)",
        readme="the embedded SQLite store (created on first use)",
    )
    neo4j_uri: str | None = setting(
        "NEO4J_URI", help="use Neo4j at this bolt:// or neo4j:// URI instead of SQLite",
        readme="use Neo4j (`bolt://…`, `neo4j://…`) instead of SQLite",
    )
    neo4j_username: str = setting("NEO4J_USERNAME", "neo4j", help="Neo4j user")
    neo4j_password: SecretStr | None = setting(
        "NEO4J_PASSWORD", repr=False, help="Neo4j password",
        readme="Neo4j password (held as a `SecretStr`: never logged or stored in traces)",
    )
    neo4j_database: str = setting("NEO4J_DATABASE", "neo4j", help="Neo4j database")
    outbox_path: Path | None = setting(
        "DIONYSUS_OUTBOX_PATH", validate_default=True, shown="next to the database",
        help="queue of trace writes made while the store was unreachable (default: beside the database)",
        readme="trace writes queued while Neo4j is unreachable",
    )
    # --- the agents
    model: str = setting(
        "DIONYSUS_MODEL", "scripted",
        help="scripted (offline) | openai:<model> | litellm:<provider/model>",
        readme="the agents' LLM: `scripted`, `openai:<model>` (with `OPENAI_BASE_URL`, `OPENAI_API_KEY`: OpenAI, "
        "Ollama, vLLM, LM Studio), `litellm:<provider/model>` (`pip install litellm`)",
    )
    openai_api_key: SecretStr | None = setting(
        "OPENAI_API_KEY", repr=False, help="the key of DIONYSUS_MODEL=openai:<model> (a local server needs some non-empty key)",
        readme="the key of `DIONYSUS_MODEL=openai:<model>` (a local server needs some non-empty key; held as a `SecretStr`)",
    )
    openai_base_url: str | None = setting(
        "OPENAI_BASE_URL", shown="OpenAI's", help="the /v1 URL of an OpenAI-compatible server (Ollama, vLLM, LM Studio)",
        readme="the `/v1` URL of an OpenAI-compatible server (Ollama, vLLM, LM Studio)",
    )
    model_timeout_s: float = setting(
        "DIONYSUS_MODEL_TIMEOUT", 60.0, ge=0.1, le=3600.0, help="seconds one model request may take",
        readme="seconds one model request may take; a hung endpoint fails after it",
    )
    model_retries: int = setting(
        "DIONYSUS_MODEL_RETRIES", 2, ge=0, le=10, help="retries of a model request after 429, 5xx or a refused connection",
        readme="retries of a model request after 429 / 5xx / a refused connection (0–10)",
    )
    temperature: float | None = setting(
        "DIONYSUS_TEMPERATURE", ge=0.0, le=2.0, help="sampling temperature sent to the provider (0-2)",
        readme="sampling temperature sent to the provider (0–2); unset = the provider's default",
    )
    manager: Annotated[Literal["code", "tool-calling"], _folded(str.lower)] = setting(
        "DIONYSUS_MANAGER", "code", help="code (a CodeAgent; its code runs in a child process) | tool-calling (no code)",
        readme="the ConsciousnessManager: `code` (a CodeAgent writing Python, run in a child process) or "
        "`tool-calling` (a ToolCallingAgent calling the same team as tools, no code)",
    )
    code_step_timeout_s: float = setting(
        "DIONYSUS_CODE_STEP_TIMEOUT", 10.0, ge=0.1, le=CODE_STEP_TIMEOUT_MAX_S,
        help="seconds one step of the manager's code may compute (0.1-25)",
        readme="seconds one step of the manager's code may compute in its child process (0.1–25; time inside team "
        "members does not count)",
    )
    memory_window: int = setting(
        "AGENT_MEMORY_WINDOW", 3, ge=1, le=1000, help="agent steps whose observations are never pruned",
        readme="agent steps whose observations are never pruned (steps older than 4 fold into the rolling digest, "
        "docs/benchmarks.md)",
    )
    # --- cognition
    basin_half_life_s: float = setting(
        "DIONYSUS_BASIN_HALF_LIFE", 3600.0, ge=1.0, le=10 * 365 * 86400.0,
        help="seconds for a basin's activation to halve",
    )
    embedder: Annotated[Literal["minilm", "wordllama", "none"], _folded(str.lower)] = setting(
        "DIONYSUS_EMBEDDER", "minilm",
        help="minilm (all-MiniLM-L6-v2, offline) | wordllama (extra) | none (words only)",
        readme="embedding model for recall by meaning: `minilm` (all-MiniLM-L6-v2, shipped in the package, offline, "
        "no torch; docs/benchmarks.md has its figures); `wordllama` (the former default, far cheaper, far worse at "
        'paraphrases: `pip install "dionysus-mcp[wordllama]"`); or `none` for words only. After a change — or an '
        "upgrade from a version whose default was `wordllama` — run `dionysus-mcp reindex`: until then recall finds "
        "the other model's memories by words only and says how many (`stale`). docs/COGNITION.md",
    )
    # --- HTTP
    http_token: SecretStr | None = setting(
        "DIONYSUS_HTTP_TOKEN", repr=False, help="bearer token (16+ characters), required to serve HTTP off loopback",
        readme="bearer token for HTTP (16+ characters, 8+ different); required off loopback",
    )
    http_head_timeout_s: float = setting(
        "DIONYSUS_HTTP_HEAD_TIMEOUT", 10.0, ge=0.1, le=3600.0, help="seconds an HTTP client has to send a request's head",
        readme="seconds an HTTP client has to send a request's head (0.1–3600)",
    )
    http_body_timeout_s: float = setting(
        "DIONYSUS_HTTP_BODY_TIMEOUT", 30.0, ge=0.1, le=3600.0,
        help="seconds an HTTP client has to send a request's body once its head arrived",
        readme="seconds an HTTP client has to send a request's body once its head arrived (0.1–3600)",
    )
    http_max_connections: int = setting(
        "DIONYSUS_HTTP_MAX_CONNECTIONS", 500, ge=8, le=1_000_000, help="open HTTP connections at most",
        readme='open HTTP connections at most; kept within the open-file limit (see "Use it from an MCP client")',
    )
    # --- traces
    trace_retention_days: float | None = setting(
        "DIONYSUS_TRACE_RETENTION_DAYS", ge=0.0, le=36500.0, shown="unset (keep every run)",
        help="a server deletes runs older than this many days, at start and daily",
        readme="a running server deletes agent runs older than this many days (fractions count: 0.5 is 12 hours), "
        "at start and once a day",
    )
    log_level: Annotated[LOG_LEVELS, _folded(str.upper)] = setting(
        "DIONYSUS_LOG_LEVEL", "WARNING", help="DEBUG, INFO, WARNING, ERROR or CRITICAL (logs go to stderr)",
        readme="logs go to stderr, never stdout",
    )

    @field_validator("db_path", mode="before")
    @classmethod
    def _default_db(cls, value: Any) -> Any:
        return _data_dir() / "dionysus.db" if value is None else value

    @field_validator("db_path", "outbox_path")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @field_validator("outbox_path")
    @classmethod
    def _beside_the_database(cls, value: Path | None, info: Any) -> Path | None:
        db = info.data.get("db_path")
        return db.parent / "outbox.db" if value is None and db is not None else value

    @field_validator("neo4j_uri")
    @classmethod
    def _neo4j_uri(cls, raw: str | None) -> str | None:
        if not raw:
            return None
        scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
        if scheme not in NEO4J_SCHEMES:
            shown = re.sub(r"//[^/@]*@", "//", raw)  # never echo user:password@
            raise ValueError(f"NEO4J_URI={shown!r} must start with {'://, '.join(NEO4J_SCHEMES)}:// (e.g. bolt://localhost:7687)")
        return raw

    @field_validator("trace_retention_days")
    @classmethod
    def _zero_keeps_everything(cls, value: float | None) -> float | None:
        return value or None

    @property
    def backend(self) -> str:
        return "neo4j" if self.neo4j_uri else "sqlite"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """The settings in `env` (the process's environment by default); an empty value is unset."""
        env = os.environ if env is None else env
        given = {name: env[name] for name in VARIABLES.values() if env.get(name) not in (None, "")}
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            raise ConfigError(_problem(exc.errors()[0], given)) from None

    def replace(self, **changes: Any) -> "Settings":
        """A copy with `changes` (by field name), validated like the environment's values."""
        return type(self).model_validate({**self.model_dump(), **changes})


VARIABLES = {name: str(info.validation_alias) for name, info in Settings.model_fields.items()}  # field -> variable
FIELDS = {variable: name for name, variable in VARIABLES.items()}


def _problem(err: Mapping[str, Any], given: Mapping[str, str]) -> str:
    """One pydantic error as one line naming the variable (`NAME='value' must be …`)."""
    name = str(err["loc"][0])  # the variable (validated by alias)
    field = FIELDS.get(name, name)
    raw, kind, ctx = given.get(name, err.get("input")), err["type"], err.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error") or err["msg"])
    if kind == "literal_error":
        choices = [str(c) for c in get_args(Settings.model_fields[field].annotation)]
        return f"{name}={err.get('input')!r} must be {', '.join(choices[:-1])} or {choices[-1]}"
    if kind in {"int_parsing", "int_from_float", "int_type"}:
        return f"{name}={raw!r} is not a whole number"
    if kind in {"float_parsing", "float_type"}:
        return f"{name}={raw!r} is not a number"
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than", "finite_number"}:
        low, high = _span(field)
        return f"{name}={raw!r} must be between {low} and {high}"
    return f"{name}={raw!r}: {err['msg']}"


def _span(field: str) -> tuple[Any, Any]:
    metadata = Settings.model_fields[field].metadata
    low = next(getattr(m, "ge", None) for m in metadata if getattr(m, "ge", None) is not None)
    high = next(getattr(m, "le", None) for m in metadata if getattr(m, "le", None) is not None)
    return low, high
