"""Which records changed, for whoever follows them: the MCP surface's resource subscriptions.

The services publish what they wrote — a trace (by id: the trace and the root run it belongs
to), the basins — and a listener maps that onto resource URIs (surface/subscriptions.py).
Publishing is synchronous and cheap, on the event loop, and never fails the write that
published it: a listener that raises is logged and skipped. What another process writes is not
published here; a follower learns it from a cheap store check (surface/subscriptions.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

Listener = Callable[[str, str], None]  # (kind, key): ("trace", trace id) or ("basins", "")


class Changes:
    def __init__(self) -> None:
        self._listeners: dict[object, Listener] = {}

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(kind, key)` on every change; returns the unsubscribe callable."""
        token = object()
        self._listeners[token] = listener
        return lambda: self._listeners.pop(token, None)

    def publish(self, kind: str, key: str = "") -> None:
        for listener in list(self._listeners.values()):
            try:
                listener(kind, key)
            except Exception:  # a follower's problem must never fail the write that published
                log.exception("a change listener failed")
