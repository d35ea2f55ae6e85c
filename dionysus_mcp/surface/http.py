"""HTTP: MCP over streamable HTTP at /mcp, plus a small read-only REST API over the traces.

    GET /health
    GET /api/agents/traces?agent_name=&status=&since=&until=&limit=&cursor=&roots_only=
    GET /api/agents/traces/{id}
    GET /api/agents/traces/{id}?detail=summary|full&steps_from=&steps_limit=
    GET /api/agents/traces/{id}/replay          (text/markdown)
    GET /api/agents/traces/diff?a=&b=
    GET /api/agents/token-usage?agent_name=&since=
    GET /traces, /traces/{id}                   (the trace viewer, HTML; /traces/{a}?diff={b})

Loopback by default. Binding to any other address requires DIONYSUS_HTTP_TOKEN, and when a
token is set every route (MCP included) requires `Authorization: Bearer <token>`. A browser
cannot send that header when it opens the viewer, so `/traces?token=<token>` exchanges the token
once for an HttpOnly, SameSite=Strict cookie (and redirects to drop it from the address bar);
the cookie is accepted for GET requests to the viewer and the read-only REST API only — never
for /mcp, where tools write.
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlencode
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from dionysus_mcp.config import ConfigError, Settings
from dionysus_mcp.errors import DionysusError, InvalidInput, NotFound
from dionysus_mcp.runtime import Runtime, open_runtime
from dionysus_mcp.store.base import StoreError

log = logging.getLogger(__name__)
STATUSES = {"running", "success", "max_steps", "error", "cancelled", "interrupted"}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


COOKIE = "dionysus_token"


def _viewer_path(path: str) -> bool:
    return path == "/traces" or path.startswith("/traces/")


class BearerAuth:
    """Every request must carry the token (compared in constant time); the viewer's browser
    reads may carry it as a cookie instead (see the module docstring)."""

    def __init__(self, app: ASGIApp, token: str):
        self.app = app
        self.token = token.encode()
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers", [])).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                response = self._browser(scope)
                if response is None:
                    response = JSONResponse(
                        {"error": "unauthorized: send Authorization: Bearer <DIONYSUS_HTTP_TOKEN>"},
                        status_code=401, headers={"WWW-Authenticate": "Bearer"},
                    )
                if response is not True:
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _browser(self, scope: Scope) -> Response | bool | None:
        """True: a browser read with the right cookie; a redirect setting the cookie for the right
        `?token=` on a viewer page; None: unauthorized."""
        path = scope.get("path", "")
        if scope.get("method") != "GET" or not (_viewer_path(path) or path.startswith("/api/agents/")):
            return None
        request = Request(scope)
        offered = request.query_params.get("token")
        if offered is not None and _viewer_path(path):
            if not hmac.compare_digest(offered.encode(), self.token):
                return None
            rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            response = RedirectResponse(path + (f"?{rest}" if rest else ""), status_code=303)
            response.set_cookie(COOKIE, self.token.decode(), httponly=True, samesite="strict", path="/")
            return response
        return True if hmac.compare_digest(request.cookies.get(COOKIE, "").encode(), self.token) else None


def _json(model: Any, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


def _error(exc: Exception) -> Response:
    if isinstance(exc, NotFound):
        return JSONResponse({"error": str(exc)}, status_code=404)
    if isinstance(exc, DionysusError):
        return JSONResponse({"error": str(exc)}, status_code=400)
    log.warning("store error on REST request: %s", exc)
    return JSONResponse({"error": f"store unavailable: {exc}"}, status_code=503)


def _datetime(params: Any, name: str) -> datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name}={raw!r} is not an ISO-8601 date or time (e.g. 2026-11-24T10:00:00Z)") from None
    from dionysus_mcp.surface.common import plausible_moment

    try:
        return plausible_moment(value if value.tzinfo else value.replace(tzinfo=timezone.utc))
    except ValueError as exc:
        raise InvalidInput(f"{name}: {exc}") from None


def _int(params: Any, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name}={raw!r} is not a whole number") from None


def _opt_int(params: Any, name: str) -> int | None:
    return None if params.get(name) in (None, "") else _int(params, name, 0)


def rest_routes(get_runtime) -> list[Route]:
    async def health(request: Request) -> Response:
        rt: Runtime = get_runtime()
        return JSONResponse({"status": "ok", "store": rt.store.backend, "outbox_pending": rt.outbox.count()})

    async def traces(request: Request) -> Response:
        q = request.query_params
        try:
            status = q.get("status") or None
            if status is not None and status not in STATUSES:
                raise InvalidInput(f"status={status!r} must be one of {', '.join(sorted(STATUSES))}")
            page = await get_runtime().traces.list_traces(
                agent_name=q.get("agent_name") or None,
                status=status,
                since=_datetime(q, "since"),
                until=_datetime(q, "until"),
                limit=_int(q, "limit", 20),
                cursor=q.get("cursor") or None,
                roots_only=q.get("roots_only", "").lower() in {"1", "true", "yes"},
            )
        except (DionysusError, StoreError) as exc:
            return _error(exc)
        return _json(page)

    async def trace(request: Request) -> Response:
        try:
            q = request.query_params
            return _json(await get_runtime().traces.read_trace(
                request.path_params["trace_id"], q.get("detail") or "full", _opt_int(q, "steps_from"),
                _opt_int(q, "steps_limit"),
            ))
        except (DionysusError, StoreError) as exc:
            return _error(exc)

    async def diff(request: Request) -> Response:
        q = request.query_params
        try:
            if not q.get("a") or not q.get("b"):
                raise InvalidInput("pass the two runs to compare as ?a=<trace id>&b=<trace id>")
            return _json(await get_runtime().traces.diff(q["a"], q["b"]))
        except (DionysusError, StoreError) as exc:
            return _error(exc)

    async def replay(request: Request) -> Response:
        try:
            text = await get_runtime().traces.replay(request.path_params["trace_id"])
        except (DionysusError, StoreError) as exc:
            return _error(exc)
        return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")

    async def token_usage(request: Request) -> Response:
        q = request.query_params
        try:
            report = await get_runtime().traces.token_usage(q.get("agent_name") or None, _datetime(q, "since"))
        except (DionysusError, StoreError) as exc:
            return _error(exc)
        return _json(report)

    async def viewer(request: Request) -> Response:
        from dionysus_mcp.surface.viewer import viewer_html

        # The page reads everything through the REST API; it only needs to be the page.
        return HTMLResponse(viewer_html(), headers={
            "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline';"
                                       " connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
            "Cache-Control": "no-store",
        })

    return [
        Route("/health", health, methods=["GET"]),
        Route("/traces", viewer, methods=["GET"]),
        Route("/traces/{trace_id}", viewer, methods=["GET"]),
        Route("/api/agents/traces", traces, methods=["GET"]),
        Route("/api/agents/traces/diff", diff, methods=["GET"]),  # before {trace_id}
        Route("/api/agents/traces/{trace_id}", trace, methods=["GET"]),
        Route("/api/agents/traces/{trace_id}/replay", replay, methods=["GET"]),
        Route("/api/agents/token-usage", token_usage, methods=["GET"]),
    ]


def create_app(settings: Settings, host: str = "127.0.0.1", runtime: Runtime | None = None) -> Starlette:
    """The ASGI app. One runtime serves every MCP session and REST request; pass `runtime`
    to share one that is already open (tests), else the app opens its own."""
    if not is_loopback(host) and not settings.http_token:
        raise ConfigError(
            f"refusing to serve on {host} without DIONYSUS_HTTP_TOKEN: set a token, or bind to 127.0.0.1"
        )
    from dionysus_mcp.surface.server import build_server

    holder: dict[str, Runtime] = {}
    if runtime is not None:
        holder["runtime"] = runtime

    @asynccontextmanager
    async def shared() -> AsyncIterator[Runtime]:
        yield holder["runtime"]

    mcp_app = build_server(runtime_factory=shared, settings=settings).streamable_http_app(host=host)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # The runtime first: the MCP app's own lifespan already asks for it.
        async with AsyncExitStack() as stack:
            if runtime is None:
                holder["runtime"] = await stack.enter_async_context(open_runtime(settings))
            await stack.enter_async_context(mcp_app.router.lifespan_context(mcp_app))
            yield

    if settings.http_token:
        middleware = [Middleware(BearerAuth, token=settings.http_token.get_secret_value())]
    else:
        # Loopback without a token: refuse other Host headers, so a web page cannot reach the
        # REST routes through DNS rebinding (the MCP app guards /mcp the same way itself).
        middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=sorted({"127.0.0.1", "localhost", "::1", "[::1]", host}))]
    return Starlette(
        routes=[*rest_routes(lambda: holder["runtime"]), Mount("/", app=mcp_app)],
        middleware=middleware,
        lifespan=lifespan,
    )


class _Announcing:
    """Says where the server listens once the socket is bound (stderr: stdout may be piped)."""

    @staticmethod
    def server(config: Any, host: str, port: int) -> Any:
        import sys

        import uvicorn

        class Server(uvicorn.Server):
            async def startup(self, sockets: Any = None) -> None:
                await super().startup(sockets)
                if self.started:
                    shown = f"[{host}]" if ":" in host else host
                    print(f"dionysus-mcp: serving MCP at http://{shown}:{port}/mcp and REST at "
                          f"http://{shown}:{port}/api/agents (Ctrl-C stops)", file=sys.stderr, flush=True)

        return Server(config)


def _preflight(settings: Settings, host: str, port: int) -> None:
    """What would fail inside uvicorn as a traceback fails here as one line: the address is
    taken, or the store cannot be opened."""
    import socket

    import anyio

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise DionysusError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

    async def store_opens() -> None:
        async with open_runtime(settings):
            pass

    anyio.run(store_opens)


def serve_http(settings: Settings, host: str, port: int) -> int:
    import uvicorn

    app = create_app(settings, host)
    _preflight(settings, host, port)
    config = uvicorn.Config(app, host=host, port=port, log_level=settings.log_level.lower())
    server = _Announcing.server(config, host, port)
    server.run()
    # uvicorn reports a failed start (a port taken) in its log and returns without serving.
    return 0 if server.started else 1
