"""The HTTP gate decides every ASGI scope type; viewer sessions expire and open reads only; the log
formatter masks what must never be written. (The whole server is tested as a process in
tests/integration/test_http_hardening.py; here the pieces meet ASGI messages directly.)"""

from __future__ import annotations

import logging

import pytest

from dionysus_mcp.config import ConfigError
from dionysus_mcp.secrets import ProcessSecrets
from dionysus_mcp.surface.http.auth import Gate, check_token
from dionysus_mcp.surface.http.sessions import ViewerSessions
from dionysus_mcp.surface.logs import NetworkEvents, RedactingFormatter, redact

TOKEN = "unit-test-token-0123456789"


class Inner:
    """The app behind the gate: records that it was reached."""

    def __init__(self) -> None:
        self.reached: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        self.reached.append(scope["type"])


async def call(gate: Gate, scope: dict) -> list[dict]:
    sent: list[dict] = []

    async def receive():
        return {"type": "websocket.connect"} if scope["type"] == "websocket" else {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    await gate(scope, receive, send)
    return sent


def scope(kind: str, path: str = "/mcp", headers: dict[str, str] | None = None, **extra) -> dict:
    return {"type": kind, "path": path, "query_string": b"", "server": ("127.0.0.1", 8765),
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {"host": "127.0.0.1:8765"}).items()], **extra}


async def test_every_scope_type_is_decided():
    inner = Inner()
    gate = Gate(inner, "127.0.0.1", TOKEN)
    # A websocket without the token is closed before the app sees it; with the token it passes.
    sent = await call(gate, scope("websocket"))
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "unauthorized"}] and inner.reached == []
    await call(gate, scope("websocket", headers={"host": "127.0.0.1:8765", "authorization": f"Bearer {TOKEN}"}))
    assert inner.reached == ["websocket"]
    # A websocket from a foreign page is refused even with the token.
    sent = await call(gate, scope("websocket", headers={"authorization": f"Bearer {TOKEN}", "origin": "http://evil.example"}))
    assert sent[0]["type"] == "websocket.close" and inner.reached == ["websocket"]
    # Types nobody thought about are refused; the lifespan passes.
    assert await call(gate, scope("webtransport")) == [] and inner.reached == ["websocket"]
    await call(gate, {"type": "lifespan"})
    assert inner.reached == ["websocket", "lifespan"]


async def test_without_a_token_the_host_and_origin_are_checked_for_websockets_too():
    inner = Inner()
    gate = Gate(inner, "127.0.0.2", None)
    for headers in ({"host": "evil.example:8765"}, {"host": "127.0.0.2:8765", "origin": "null"}):
        sent = await call(gate, scope("websocket", headers=headers))
        assert sent[0]["type"] == "websocket.close", headers
    await call(gate, scope("websocket", headers={"host": "127.0.0.2:8765", "origin": "http://127.0.0.2:8765"}))
    assert inner.reached == ["websocket"]


async def test_a_session_opens_get_reads_only():
    inner = Inner()
    sessions = ViewerSessions()
    gate = Gate(inner, "127.0.0.1", TOKEN, sessions)
    value = sessions.issue()
    cookie = {"host": "127.0.0.1:8765", "cookie": f"dionysus_viewer_8765={value}"}
    for method, path, reached in (("GET", "/api/agents/traces", True), ("GET", "/traces/x", True),
                                  ("POST", "/api/agents/traces", False), ("GET", "/mcp", False),
                                  ("GET", "/health", False), ("GET", "/tracesx", False)):
        before = len(inner.reached)
        sent = await call(gate, scope("http", path, cookie, method=method))
        assert (len(inner.reached) > before) is reached, (method, path)
        if not reached:
            assert sent[0]["status"] == 401
    # Under another port's cookie name it is not read.
    before = len(inner.reached)
    await call(gate, scope("http", "/api/agents/traces", {"cookie": f"dionysus_viewer_9999={value}"}, method="GET"))
    assert len(inner.reached) == before


def test_sessions_expire_and_are_random():
    now = [1000.0]
    sessions = ViewerSessions(ttl_s=60, clock=lambda: now[0])
    value = sessions.issue()
    assert value.startswith("dvs_") and len(value) > 40 and value != sessions.issue()
    assert sessions.allows(value, "/traces") and not sessions.allows(value[:-1], "/traces")
    assert not sessions.allows(TOKEN, "/traces") and not sessions.allows(None, "/traces")
    now[0] += 60
    assert not sessions.allows(value, "/traces")


@pytest.mark.parametrize("token", ["", "short", "x" * 40, "abcdefgabcdefgabcdefg", "spaced token 0123456789", "tøken-0123456789abc"])
def test_weak_tokens_are_refused(token):
    with pytest.raises(ConfigError, match="DIONYSUS_HTTP_TOKEN"):
        check_token(token)


def test_a_strong_token_passes():
    check_token(TOKEN)


def test_the_log_masks_secrets_queries_credentials_and_sessions():
    secrets = ProcessSecrets(["neo4j-password-xyz"], env={"OPENAI_API_KEY": "sk-abcdef0123456789"})
    line = ('GET /traces?token=guess123&diff=b HTTP/1.1 api_key=x password=neo4j-password-xyz '
            'Authorization: Bearer abcdefgh12345 cookie dionysus_viewer_1=dvs_' + "A" * 43 + " key sk-abcdef0123456789")
    masked = redact(line, secrets)
    assert masked.startswith("GET /traces?token=***&diff=b HTTP/1.1")
    for secret in ("guess123", "neo4j-password-xyz", "abcdefgh12345", "A" * 43, "sk-abcdef0123456789"):
        assert secret not in masked
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET %s", ("/traces?session=s3cr3t",), None)
    assert RedactingFormatter(secrets).format(record).endswith("GET /traces?session=***")


def test_a_client_disconnect_is_one_info_line():
    from starlette.requests import ClientDisconnect

    try:
        raise ClientDisconnect()
    except ClientDisconnect as exc:
        record = logging.LogRecord("mcp.server.streamable_http", logging.ERROR, __file__, 1, "Error handling POST request",
                                   (), (type(exc), exc, exc.__traceback__))
    logger = logging.getLogger("mcp.server.streamable_http")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        assert NetworkEvents().filter(record)
    finally:
        logger.setLevel(level)
    assert record.levelname == "INFO" and record.exc_info is None
    assert record.getMessage() == "a client disconnected before its request was complete (Error handling POST request)"
    events = NetworkEvents()
    accept = [logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "socket.accept() out of system resource", (),
                                (OSError, OSError(24, "Too many open files"), None)) for _ in range(3)]
    assert [events.filter(r) for r in accept] == [True, False, False]
    assert accept[0].exc_info is None and "Too many open files" in accept[0].getMessage()
