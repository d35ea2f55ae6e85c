"""Loading what later requests need (the embedding model, the token counter's vocabulary) when
the server is idle, so that it never competes with a request.

Both loads hold the GIL for tens to hundreds of milliseconds (the tokenizer's Rust build holds it
throughout): started at launch, they delayed the first tool result well past a bare MCPServer's
(docs/benchmarks.md, "Figures behind the code"). So the server starts them after its first request has been answered, or
once it has sat `IDLE_S` with no request at all — whichever comes first — in one background
thread, one load after the other. A request that needs a model before that loads it itself, off
the event loop (Embedder.embed_async).

The thread may still be loading when the process exits (a client that disconnects at once):
interpreter shutdown then refuses what an import does late (`RuntimeError: can't register atexit
after shutdown`). Nothing is lost by a load that did not finish, so its failure is logged at
debug level, never printed as a traceback; and the thread is not a daemon, so an exit waits for
it rather than killing it inside native code.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

IDLE_S = 1.0


class WarmUp:
    def __init__(self, loads: list[Callable[[], object]], idle_s: float = IDLE_S):
        self.loads = loads
        self.idle_s = idle_s
        self.in_flight = 0
        self.thread: threading.Thread | None = None
        self._idle_timer: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        """Start the loads after `idle_s` without a request (call on the event loop)."""
        if self.thread is None and self._idle_timer is None:
            self._idle_timer = asyncio.get_running_loop().call_later(self.idle_s, self._when_idle)

    def request_started(self) -> None:
        self.in_flight += 1

    def request_finished(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self.start()

    def _when_idle(self) -> None:
        self._idle_timer = None
        if self.in_flight == 0:
            self.start()  # else the request in flight starts them when it is answered

    def start(self) -> None:
        if self.thread is not None:
            return
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self.thread = threading.Thread(target=self._run, name="warm-up")
        self.thread.start()

    def cancel(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _run(self) -> None:
        for load in self.loads:
            try:
                load()
            except BaseException as exc:  # noqa: BLE001 - a warm-up is an optimization: never a traceback
                log.debug("warm-up %s did not finish: %s: %s", getattr(load, "__qualname__", load), type(exc).__name__, exc)
