"""The ASGI app: MCP over streamable HTTP at /mcp, the REST API and the viewer (routes.py), behind
the middleware of auth.py. One runtime serves every MCP session and REST request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

from dionysus_mcp.config import Settings, reveal
from dionysus_mcp.runtime import Runtime, open_runtime
from dionysus_mcp.surface.http.auth import Gate, SecurityHeaders, check_bind
from dionysus_mcp.surface.http.routes import rest_routes


def create_app(settings: Settings, host: str = "127.0.0.1", runtime: Runtime | None = None) -> Starlette:
    """Pass `runtime` to share one that is already open (tests), else the app opens its own.
    Refuses (ConfigError, one line) a non-loopback bind without a token, and a weak token."""
    check_bind(settings, host)
    token = reveal(settings.http_token)  # unwrapped for the bearer check only
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

    return Starlette(
        routes=[*rest_routes(lambda: holder["runtime"]), Mount("/", app=mcp_app)],
        middleware=[Middleware(SecurityHeaders), Middleware(Gate, host=host, token=token)],
        lifespan=lifespan,
    )
