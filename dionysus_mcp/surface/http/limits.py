"""Connection limits: a client that opens connections and sends nothing, or half a request, must
not take the server from the clients that send whole ones.

What uvicorn offers and what it lacks: it closes idle keep-alive connections
(`timeout_keep_alive`, 5 s), caps a request head's size (h11's `max_incomplete_event_size`,
16 KiB) and can answer 503 past `limit_concurrency` — but it has no time limit on a request's
head or body, and its concurrency limit counts the half-sent connections too, so an attacker
holding them gets every real request a 503. Before this module, a few hundred half-sent request
heads ran the process out of file descriptors: asyncio stopped accepting and an authenticated
/health went unanswered (the measurements before and after: docs/benchmarks.md, "Figures behind
the code").

So the server runs uvicorn's h11 protocol with three additions (`bounded_protocol`), watching
h11's state of the client's side of each connection:
- head timeout (DIONYSUS_HTTP_HEAD_TIMEOUT, 10 s): from the moment the server waits for a
  request (connection opened, or previous response sent) until its head is complete — a total,
  so trickling a byte at a time does not extend it. A half-sent head is answered 408 and closed;
- body timeout (DIONYSUS_HTTP_BODY_TIMEOUT, 30 s): from the head until the body is complete;
- a connection cap (DIONYSUS_HTTP_MAX_CONNECTIONS, 500). The process's open-file limit is raised
  to fit it where the hard limit allows, else the cap is lowered to the limit minus RESERVE_FDS,
  so accepting never runs out of descriptors. When a connection arrives at the cap, the
  connection that has kept the server waiting longest for a request it has not finished
  sending is closed to make room; only when every connection is being served is the newcomer
  answered 503. Clients that send whole requests are therefore always let in.

Raise them through the environment (README, "Configuration"). uvicorn.Config takes a protocol
class as `http=`; this subclass of its H11Protocol overrides only the asyncio.Protocol
callbacks and `on_response_complete`, and reads h11's public states.
"""

from __future__ import annotations

import logging
import time
from typing import Any, NamedTuple

log = logging.getLogger(__name__)

# asyncio accepts up to `backlog` waiting connections per turn of the loop, and a connection
# closed to make room frees its descriptor two turns after its successor was accepted: the
# descriptors of three batches must be free on top of the capped connections, and of the
# process's own files (store, outbox, logs, the agents' child processes).
BACKLOG = 64
RESERVE_FDS = 3 * BACKLOG + 64
GRACEFUL_S = 5  # on SIGTERM, how long running requests (and open streams) may take to finish
WARN_EVERY_S = 60.0
TIMEOUT_408 = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
               b"connection: close\r\ncontent-length: 26\r\n\r\nrequest head took too long")
FULL_503 = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"connection: close\r\ncontent-length: 20\r\n\r\ntoo many connections")


class Limits(NamedTuple):
    head_timeout_s: float
    body_timeout_s: float
    max_connections: int


def fit_to_open_files(wanted: int) -> tuple[int, str | None]:
    """The connection cap the open-file limit allows: the soft limit is raised towards the hard
    one when it is too low for `wanted` (what servers commonly do), and the cap is lowered, with
    a warning, when even the hard limit is too low."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # no resource module (Windows): trust the setting
        return wanted, None
    needed = wanted + RESERVE_FDS
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (OSError, ValueError):
            pass
    if soft == resource.RLIM_INFINITY or wanted <= soft - RESERVE_FDS:
        return wanted, None
    room = max(8, soft - RESERVE_FDS)
    return room, (f"DIONYSUS_HTTP_MAX_CONNECTIONS={wanted} does not fit the open-file limit of {soft}: serving at "
                  f"most {room} connections (raise the limit with `ulimit -n`)")


def bounded_protocol(limits: Limits) -> type[Any]:
    """uvicorn's h11 protocol with the limits of the module docstring."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    warned = [0.0]  # when the cap was last reported (one WARNING a minute, not one per connection)

    class BoundedH11Protocol(H11Protocol):
        _phase: str | None = None  # "head" / "body": waiting for the client; None: serving or closing
        _since = 0.0
        _timer: Any = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._observe()
            live = [c for c in self.connections if not c.transport.is_closing()]
            if len(live) > limits.max_connections and not self._make_room(live):
                self._report_cap(len(live), "refused a new connection (503): every connection is being served")
                self._cancel()
                transport.write(FULL_503)
                transport.close()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._observe()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._observe()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel()
            self._phase = None
            super().connection_lost(exc)

        # --- waiting for the client ------------------------------------------------------------
        def _observe(self) -> None:
            state = self.conn.their_state
            if self.transport.is_closing():
                phase = None
            elif state is h11.IDLE:
                phase = "head"
            elif state is h11.SEND_BODY:
                phase = "body"
            else:
                phase = None
            if phase == self._phase:
                return
            self._cancel()
            self._phase = phase
            if phase is not None:
                self._since = time.monotonic()
                limit = limits.head_timeout_s if phase == "head" else limits.body_timeout_s
                self._timer = self.loop.call_later(limit, self._expire, phase)

        def _cancel(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _expire(self, phase: str) -> None:
            self._timer = None
            if self._phase != phase or self.transport.is_closing():
                return
            partial = bool(self.conn.trailing_data[0])
            if phase == "head" and not partial:
                self.transport.close()  # an idle connection: nothing was asked, nothing to answer
                return
            log.info("closed the connection of %s: its request %s was not complete after %.1f s",
                     _peer(self.client), phase, limits.head_timeout_s if phase == "head" else limits.body_timeout_s)
            if phase == "head":
                self.transport.write(TIMEOUT_408)
            self._phase = None
            self.transport.close()

        # --- the cap ---------------------------------------------------------------------------
        def _make_room(self, live: list[Any]) -> bool:
            waiting = [c for c in live if c is not self and getattr(c, "_phase", None) is not None]
            if not waiting:
                return False
            oldest = min(waiting, key=lambda c: c._since)
            self._report_cap(len(live), "closing the connections that keep the server waiting longest")
            log.info("closed the connection of %s to make room: it had not sent its request for %.1f s",
                     _peer(oldest.client), time.monotonic() - oldest._since)
            oldest._cancel()
            oldest._phase = None
            oldest.transport.abort()  # frees its descriptor now, whatever it has not read
            return True

        @staticmethod
        def _report_cap(count: int, what: str) -> None:
            now = time.monotonic()
            if now - warned[0] >= WARN_EVERY_S:
                warned[0] = now
                log.warning("%d HTTP connections reached DIONYSUS_HTTP_MAX_CONNECTIONS=%d: %s", count,
                            limits.max_connections, what)

    return BoundedH11Protocol


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "a client"
