"""Secrets in the settings are `SecretStr`: read once, never shown, unwrapped only where a client
needs them."""

from __future__ import annotations

import logging

from pydantic import SecretStr

from agents.models import create_model
from dionysus_mcp.config import Settings, reveal
from dionysus_mcp.secrets import MASK, ProcessSecrets, Redactor

VALUES = {
    "NEO4J_PASSWORD": "neo4j-secret-value-123",
    "DIONYSUS_HTTP_TOKEN": "http-token-value-456",
    "OPENAI_API_KEY": "sk-openai-key-value-789",
}


def settings() -> Settings:
    return Settings.from_env({"DIONYSUS_DB_PATH": "/tmp/x.db", **VALUES, "NEO4J_URI": "bolt://localhost:7687"})


def test_secrets_are_held_as_secrets_and_never_shown(caplog):
    s = settings()
    for field in ("neo4j_password", "http_token", "openai_api_key"):
        assert isinstance(getattr(s, field), SecretStr)
    shown = [repr(s), str(s), repr(s.neo4j_password), str(s.http_token), f"{s.openai_api_key}"]
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").warning("settings: %s %s", s, s.neo4j_password)
    shown.append(caplog.text)
    assert not [text for text in shown for value in VALUES.values() if value in text]
    assert [reveal(s.neo4j_password), reveal(s.http_token), reveal(s.openai_api_key)] == list(VALUES.values())
    assert reveal(None) is None and reveal("plain") == "plain"


def test_unset_or_empty_secrets_are_none():
    s = Settings.from_env({"DIONYSUS_DB_PATH": "/tmp/x.db", "NEO4J_PASSWORD": ""})
    assert (s.neo4j_password, s.http_token, s.openai_api_key) == (None, None, None)


def test_masking_knows_the_secrets_behind_their_wrappers():
    s = settings()
    text = "pw neo4j-secret-value-123 and token http-token-value-456"
    assert Redactor([s.neo4j_password, s.http_token]).text(text) == f"pw {MASK} and token {MASK}"
    assert ProcessSecrets([s.neo4j_password, s.http_token], env={}).mask(text) == f"pw {MASK} and token {MASK}"


def test_the_openai_client_gets_the_key_the_settings_read(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    s = Settings.from_env({"DIONYSUS_DB_PATH": "/tmp/x.db", "OPENAI_API_KEY": "sk-from-settings", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    model = create_model("openai:m", "heartbeat", env={}, settings=s)  # the process environment has no key
    assert model.client.api_key == "sk-from-settings"
    assert str(model.client.base_url).startswith("http://127.0.0.1:9/v1")


def test_the_neo4j_driver_gets_the_password_unwrapped():
    from dionysus_mcp.store import create_store

    store = create_store(settings())
    assert store.__class__.__name__ == "Neo4jStore"
    connection = vars(store.db)  # the store by aggregate: the one connection holds the credentials
    held = [v for v in connection.values() if isinstance(v, (tuple, str))]
    assert any(v == VALUES["NEO4J_PASSWORD"] or (isinstance(v, tuple) and VALUES["NEO4J_PASSWORD"] in v) for v in held), connection
