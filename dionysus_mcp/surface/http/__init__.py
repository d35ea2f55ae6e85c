"""HTTP: MCP over streamable HTTP at /mcp, a read-only REST API over the traces and the trace
viewer — `dionysus-mcp serve --transport http`.

Loopback by default. Binding to any other address requires DIONYSUS_HTTP_TOKEN (16+ characters),
and when a token is set every route (MCP included) requires `Authorization: Bearer <token>`; a
browser opening the viewer exchanges it once (`/traces?token=<token>`) for a viewer session that
is not the token and opens only the viewer and the read-only REST API (sessions.py).

    app.py       the ASGI app: routes behind the middleware
    auth.py      Origin, Host, bearer and session checks; every ASGI scope type decided
    sessions.py  viewer sessions (random values with an expiry, never the token)
    routes.py    the REST API and the viewer's pages
    limits.py    time limits on request heads and bodies, a connection cap
    serve.py     uvicorn with those limits
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "serve_http"]


def __getattr__(name: str) -> Any:
    # Imported on use: the command line checks the bind (auth.check_bind) before the MCP
    # server's imports, so a refused start is quick.
    if name == "create_app":
        from dionysus_mcp.surface.http.app import create_app

        return create_app
    if name == "serve_http":
        from dionysus_mcp.surface.http.serve import serve_http

        return serve_http
    raise AttributeError(name)
