"""Resource subscriptions: follow a run (`trace://{id}`) or the basins (`basins://`,
`basin://{name}`) without polling.

mcp 2.3 speaks two protocol eras, and both are served from one place (`Followers.updated`):
- handshake-era clients (2025-11-25 and before) send `resources/subscribe` /
  `resources/unsubscribe` (handlers registered here, which also declares the capability
  `resources.subscribe: true`) and receive `notifications/resources/updated` on their
  connection's standalone channel (stdio, the HTTP GET stream);
- 2026-era clients open a `subscriptions/listen` stream (the SDK's ListenHandler, wrapped here
  only to learn which URIs are followed) and get the same updates from the server's bus.

Where the news comes from:
- what this process writes: the runtime's `Changes` (the trace service after every stored
  batch of trace writes — a step of a sub-run is news for its root run — and the basin service
  after activations, upserts, links and deletions);
- what other processes write (replicas, a second stdio server on the file): while a followed
  run is in flight elsewhere, or basins are followed, a cheap store check every FOLLOW_CHECK_S
  on the runtime's clock — the run's progress fingerprint (`lifecycle.progress`: its status and
  step counts, index reads) and the basins' revision (count and latest activation). Nothing is
  checked while nobody follows anything.
Updates are coalesced: a burst of steps is one notification per URI.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from mcp import types
from mcp.server import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated

from dionysus_mcp.store.base import StoreError

if TYPE_CHECKING:
    from dionysus_mcp.runtime import Runtime

log = logging.getLogger(__name__)

FOLLOW_CHECK_S = 1.0  # how often runs in flight elsewhere, and the basins, are checked while followed
SCHEMES = ("trace://", "basins://", "basin://", "memory://")


def _trace_uris(trace_id: str) -> list[str]:
    return [f"trace://{trace_id}", f"trace://{trace_id}/replay"]


class Followers:
    """Who follows which resource, and the delivery of their updates."""

    def __init__(self, server: MCPServer):
        self._server = server
        self._wanted: Counter[str] = Counter()  # uri -> subscriptions (both eras)
        self._sessions: dict[str, dict[int, Any]] = {}  # uri -> handshake-era channels by id
        self._pending: dict[str, None] = {}
        self._wake = anyio.Event()
        self._interest = anyio.Event()
        self._seen: dict[str, str] = {}  # fingerprints of what other processes write
        lowlevel = server._lowlevel_server
        lowlevel.add_request_handler("resources/subscribe", types.SubscribeRequestParams, self._subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, self._unsubscribe)
        listen = lowlevel.get_request_handler("subscriptions/listen")
        if listen is not None:
            self._listen_inner = listen.handler
            lowlevel.add_request_handler("subscriptions/listen", listen.params_type, self._listen)

    # --- who follows what ----------------------------------------------------------------------
    def follows(self, uri: str) -> bool:
        return self._wanted[uri] > 0

    def _want(self, uri: str, delta: int) -> None:
        self._wanted[uri] += delta
        if self._wanted[uri] <= 0:
            del self._wanted[uri]
            self._seen.pop(uri, None)
        self._interest.set()

    @staticmethod
    def _check_uri(uri: str) -> str:
        if not uri.startswith(SCHEMES):
            raise MCPError(types.INVALID_PARAMS, f"cannot subscribe to {uri[:200]!r}: the resources are {', '.join(SCHEMES)}…")
        return uri

    async def _subscribe(self, ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
        uri = self._check_uri(str(params.uri))
        # The connection is the channel's identity (each request has a session object of its
        # own); the SDK hands lowlevel handlers the session only.
        channel = getattr(ctx.session, "_connection", None) or ctx.session
        subscribers = self._sessions.setdefault(uri, {})
        if id(channel) not in subscribers:
            subscribers[id(channel)] = channel
            self._want(uri, +1)
            stack = getattr(channel, "exit_stack", None)
            if stack is not None:  # the connection closes: its subscriptions go with it
                stack.callback(self._drop, uri, id(channel))
        return types.EmptyResult()

    async def _unsubscribe(self, ctx: Any, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        channel = getattr(ctx.session, "_connection", None) or ctx.session
        self._drop(str(params.uri), id(channel))
        return types.EmptyResult()

    def _drop(self, uri: str, key: int) -> None:
        if self._sessions.get(uri, {}).pop(key, None) is not None:
            self._want(uri, -1)
            if not self._sessions[uri]:
                del self._sessions[uri]

    async def _listen(self, ctx: Any, params: types.SubscriptionsListenRequestParams) -> Any:
        uris = [str(u) for u in (params.notifications.resource_subscriptions or [])]
        for uri in uris:
            self._want(uri, +1)
        try:
            return await self._listen_inner(ctx, params)
        finally:
            for uri in uris:
                self._want(uri, -1)

    # --- what changed ------------------------------------------------------------------------------
    def changed(self, kind: str, key: str) -> None:
        """The runtime's Changes listener (sync, on the event loop): queue the URIs followed."""
        if kind == "trace":
            uris = _trace_uris(key)
        elif kind == "basins":
            uris = [u for u in self._wanted if u == "basins://" or u.startswith("basin://")]
        else:
            uris = []
        for uri in uris:
            if self.follows(uri):
                self.updated(uri)

    def updated(self, uri: str) -> None:
        self._pending[uri] = None
        self._wake.set()

    async def _deliver(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            batch, self._pending = list(self._pending), {}
            for uri in batch:
                await self._server._subscriptions.publish(ResourceUpdated(uri=uri))  # 2026-era listen streams
                for key, channel in list(self._sessions.get(uri, {}).items()):
                    try:
                        await channel.send_resource_updated(uri)
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                        self._drop(uri, key)
                    except Exception:  # one client's broken channel must not stop the others
                        log.exception("could not notify a subscriber of %s", uri)

    # --- what other processes write --------------------------------------------------------------
    async def _watch(self, runtime: "Runtime") -> None:
        while True:
            if not self._elsewhere(runtime) and not self.follows("basins://") and not any(u.startswith("basin://") for u in self._wanted):
                self._interest = anyio.Event()
                await self._interest.wait()
                continue
            try:
                await self._check(runtime)
            except StoreError as exc:  # the next check tries again
                log.warning("could not check followed resources: %s", exc)
            await runtime.clock.sleep(FOLLOW_CHECK_S)

    def _elsewhere(self, runtime: "Runtime") -> list[str]:
        """Followed runs this process does not write (their news comes from the store)."""
        ids = {u[len("trace://"):].removesuffix("/replay") for u in self._wanted if u.startswith("trace://")}
        return sorted(i for i in ids if not runtime.traces.is_open(i) and not self._seen.get(f"trace://{i}", "").startswith("ended"))

    async def _check(self, runtime: "Runtime") -> None:
        ids = self._elsewhere(runtime)
        if ids:
            progress = await runtime.store.lifecycle.progress(ids)
            for trace_id in ids:
                now = progress.get(trace_id, "")
                key = f"trace://{trace_id}"
                before = self._seen.get(key)
                # A run that has ended changes no more: remembered as ended, no longer checked.
                self._seen[key] = now if now.startswith("running:") or not now else f"ended:{now}"
                if before is not None and before != self._seen[key]:
                    for uri in _trace_uris(trace_id):
                        if self.follows(uri):
                            self.updated(uri)
        if self.follows("basins://") or any(u.startswith("basin://") for u in self._wanted):
            revision = await runtime.store.basins.revision()
            before = self._seen.get("basins://")
            self._seen["basins://"] = revision
            if before is not None and before != revision:
                self.changed("basins", "")

    @asynccontextmanager
    async def serving(self, runtime: "Runtime") -> AsyncIterator[None]:
        """Hold open while the server runs (its lifespan): delivery and the store checks."""
        unsubscribe = runtime.changes.subscribe(self.changed)
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._deliver, name="dionysus-resource-updates")
                tasks.start_soon(self._watch, runtime, name="dionysus-followed-elsewhere")
                try:
                    yield
                finally:
                    tasks.cancel_scope.cancel()
        finally:
            unsubscribe()
