"""Who may ask what: the ASGI middleware in front of every route (surface/http/app.py stacks it).

- `SecurityHeaders`: `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer` on
  every response (the viewer's CSP is set by its route).
- `Gate`: every scope type is decided here. `lifespan` passes; `http` and `websocket` are
  checked; any other type is refused (a future route or server feature is closed until it is
  thought about). Checks, in order:
  1. Origin, on every bind and every route: a request with an `Origin` header is refused (403)
     unless it is a loopback origin (`http(s)://localhost|127.x.x.x|[::1][:port]`, what local
     MCP clients and the Inspector send) or the bound address itself. `Origin: null` and any
     other site are refused — whatever loopback address the server is bound to (the MCP SDK's
     own check only switches on for 127.0.0.1, localhost and ::1).
  2. Without a token (loopback only): the Host header must name a loopback address or the bound
     one (DNS rebinding).
  3. With a token: `Authorization: Bearer <token>` (compared in constant time) opens every route;
     a viewer session cookie (surface/http/sessions.py) opens GETs of the viewer and read-only
     REST; `/traces?token=<token>` exchanges the token for such a session. Nothing else passes.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from urllib.parse import urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dionysus_mcp.config import ConfigError, Settings, reveal
from dionysus_mcp.surface.http.sessions import READS, SESSION_S, ViewerSessions, cookie_name, reads

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 16
MIN_TOKEN_KINDS = 8  # different characters: "aaaaaaaaaaaaaaaa" is long and guessable
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
# Fetch metadata of a request made by a page of this server, or typed in the address bar.
OWN_SITE = (None, "same-origin", "none")


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings, host: str) -> None:
    """Refuses (ConfigError, one line) a non-loopback bind without a token, and a weak token."""
    if not is_loopback(host) and not settings.http_token:
        raise ConfigError(f"refusing to serve on {host} without DIONYSUS_HTTP_TOKEN: set a token, or bind to 127.0.0.1")
    token = reveal(settings.http_token)
    if token:
        check_token(token)


def check_token(token: str) -> None:
    """A token must be worth guessing against: one line naming what is wrong (never the value)."""
    if not (token.isascii() and token.isprintable()) or " " in token:
        raise ConfigError("DIONYSUS_HTTP_TOKEN must be printable ASCII without spaces (it travels in a header)")
    if len(token) < MIN_TOKEN_LENGTH or len(set(token)) < MIN_TOKEN_KINDS:
        raise ConfigError(
            f"DIONYSUS_HTTP_TOKEN is too weak: use {MIN_TOKEN_LENGTH} or more characters, {MIN_TOKEN_KINDS} or more of "
            "them different (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )


def _hostname(host: str) -> str:
    """The name in a Host header: `127.0.0.1:8765` → 127.0.0.1, `[::1]:8765` → ::1."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _viewer(path: str) -> bool:
    return path == "/traces" or path.startswith("/traces/")


class SecurityHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")):
                    if name not in present:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)


class Gate:
    """See the module docstring. `host` is the bound address; `token` None means no token."""

    def __init__(self, app: ASGIApp, host: str, token: str | None, sessions: ViewerSessions | None = None):
        self.app = app
        self.bound = host.strip("[]").lower()
        self.wildcard = self.bound in ("0.0.0.0", "::", "")
        self.token = token.encode() if token else None
        self.expected = f"Bearer {token}".encode() if token else None
        self.sessions = sessions or ViewerSessions()
        self.hosts = {name.strip("[]") for name in (*LOOPBACK_NAMES, self.bound)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, receive, send)
            return
        if kind not in ("http", "websocket"):
            log.warning("refused an ASGI %r connection: only http and websocket are served", kind)
            return
        headers = Headers(scope=scope)
        refusal = self._origin(headers) or self._host(headers) or self._credentials(scope, headers)
        if refusal is None:
            await self.app(scope, receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "unauthorized"})
        else:
            await refusal(scope, receive, send)

    # --- the checks: None lets the request on, a response refuses it (or answers the exchange) --
    def _origin(self, headers: Headers) -> Response | None:
        origin = headers.get("origin")
        if origin is None:
            return None
        try:
            parts = urlsplit(origin)
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            parts = None
        if parts is not None and parts.scheme in ("http", "https") and not parts.path:
            host = parts.hostname or ""
            if is_loopback(host) or (not self.wildcard and host == self.bound):
                return None
        return JSONResponse({"error": f"Origin {origin[:100]!r} may not use this server"}, status_code=403)

    def _host(self, headers: Headers) -> Response | None:
        if self.token is not None:
            return None  # the token guards; the server may be reached under any name
        name = _hostname(headers.get("host", ""))
        if name in self.hosts or is_loopback(name):
            return None
        return JSONResponse({"error": "Invalid host header"}, status_code=400)

    def _credentials(self, scope: Scope, headers: Headers) -> Response | None:
        if self.expected is None:
            return None
        if hmac.compare_digest(headers.get("authorization", "").encode(), self.expected):
            return None
        if scope["type"] == "http" and scope.get("method") == "GET":
            path = scope.get("path", "")
            request = Request(scope)
            offered = request.query_params.get("token")
            if offered is not None and _viewer(path):
                return self._exchange(request, offered)
            if reads(path) and headers.get("sec-fetch-site") in OWN_SITE:
                port = (scope.get("server") or (None, None))[1]
                if self.sessions.allows(request.cookies.get(cookie_name(port)), path):
                    return None
        return JSONResponse(
            {"error": "unauthorized: send Authorization: Bearer <DIONYSUS_HTTP_TOKEN>"},
            status_code=401, headers={"WWW-Authenticate": "Bearer"},
        )

    def _exchange(self, request: Request, offered: str) -> Response:
        """The right token in a viewer address: a session cookie, and the address without it."""
        if not hmac.compare_digest(offered.encode("utf-8", "surrogatepass"), self.token or b""):
            return JSONResponse({"error": "unauthorized: the token in the address is wrong"}, status_code=401)
        rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
        response = RedirectResponse(request.url.path + (f"?{rest}" if rest else ""), status_code=303,
                                    headers={"Cache-Control": "no-store"})
        value = self.sessions.issue()
        port = (request.scope.get("server") or (None, None))[1]
        for path in READS:
            response.set_cookie(cookie_name(port), value, max_age=SESSION_S, path=path, httponly=True,
                                samesite="strict", secure=request.url.scheme == "https")
        return response
