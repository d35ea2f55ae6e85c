"""A reverse proxy for tests that sends each HTTP request to the next backend in turn — what a
load balancer without session affinity does. Streams responses through (MCP answers with
server-sent events), so a long-lived stream stays on the backend that opened it.

    async with round_robin(["http://127.0.0.1:8001", "http://127.0.0.1:8002"]) as url:
        ...  # url + "/mcp"; `proxy.served` lists (backend index, method) per request
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection"}


class Proxy:
    def __init__(self, backends: list[str]):
        self.backends = backends
        self.served: list[tuple[int, str]] = []
        self._turn = itertools.cycle(range(len(backends)))

    async def forward(self, request: Request) -> StreamingResponse:
        index = next(self._turn)
        self.served.append((index, request.method))
        client = httpx.AsyncClient(timeout=None)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream = client.build_request(
            request.method, self.backends[index] + request.url.path, params=request.query_params,
            headers=headers, content=await request.body(),
        )
        response = await client.send(upstream, stream=True)

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_raw():
                    yield chunk
            finally:
                await response.aclose()
                await client.aclose()

        kept = {k: v for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP}
        return StreamingResponse(body(), status_code=response.status_code, headers=kept)


@asynccontextmanager
async def round_robin(backends: list[str]) -> AsyncIterator[tuple[str, Proxy]]:
    """Serve the proxy on a free loopback port while held; yields its base URL and itself."""
    proxy = Proxy(backends)
    app = Starlette(routes=[Route("/{path:path}", proxy.forward, methods=["GET", "POST", "DELETE"])])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(server.serve)
        with anyio.fail_after(30):
            while not server.started:
                await anyio.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}", proxy
        finally:
            server.should_exit = True
