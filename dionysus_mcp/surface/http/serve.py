"""`dionysus-mcp serve --transport http`: uvicorn with the limits of limits.py, logging through
the process's one redacting handler (surface/logs.py), a one-line failure for a taken port or a
store that does not open."""

from __future__ import annotations

import logging
import sys
from typing import Any

from dionysus_mcp.config import Settings
from dionysus_mcp.errors import DionysusError
from dionysus_mcp.runtime import open_runtime
from dionysus_mcp.surface.http.app import create_app
from dionysus_mcp.surface.http.limits import BACKLOG, GRACEFUL_S, Limits, bounded_protocol, fit_to_open_files

log = logging.getLogger(__name__)


def _announcing(config: Any, host: str, port: int) -> Any:
    """A uvicorn server that says where it listens once the socket is bound (stderr: stdout
    may be piped)."""
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
    cap, warning = fit_to_open_files(settings.http_max_connections)
    if warning:
        log.warning(warning)
    limits = Limits(settings.http_head_timeout_s, settings.http_body_timeout_s, cap)
    config = uvicorn.Config(
        app, host=host, port=port, log_level=settings.log_level.lower(),
        # uvicorn's own handlers would bypass the redaction (and print the access log on stdout).
        log_config=None,
        http=bounded_protocol(limits), ws="none", lifespan="on", backlog=BACKLOG,
        timeout_graceful_shutdown=GRACEFUL_S,
    )
    server = _announcing(config, host, port)
    server.run()
    # uvicorn reports a failed start (a port taken) in its log and returns without serving.
    return 0 if server.started else 1
