"""Viewer sessions: what a browser holds instead of the bearer token.

`/traces?token=<token>` (the one request that carries the token) is answered with a fresh
random session value in a cookie. The value is not the token and opens less:
- GET requests to the viewer pages and the read-only REST API only (`READS`), never /mcp,
  /health or any other method — as a cookie; as a bearer it opens nothing at all;
- until it expires (SESSION_S) or the server stops (sessions live in this process's memory:
  behind several replicas the viewer must stay on one, or exchange the token again);
- from a page of this server only: a request the browser marks as coming from another site or
  port (`Sec-Fetch-Site`) is not let in with it.

The server keeps a digest of each value, not the value. Values start with `dvs_` so the log
formatter (surface/logs.py) can mask one wherever it would appear.

The cookie is named after the server's port (`dionysus_viewer_8765`): browsers send a host's
cookies to every port of that host, so two servers on one machine would otherwise overwrite each
other's cookie — and an unrelated service on another port of the host receives it, which is why
the value must be worth little. It is HttpOnly, SameSite=Strict, Secure over https, and set
twice, for Path=/traces and Path=/api/agents, so the browser sends it nowhere else.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

PREFIX = "dvs_"
SESSION_S = 12 * 3600  # a working day; then the token is exchanged again
MAX_SESSIONS = 1000  # the oldest goes first: the token holder cannot grow memory without bound
READS = ("/traces", "/api/agents")  # the cookie's paths: the viewer and the read-only REST API
COOKIE_PREFIX = "dionysus_viewer_"


def cookie_name(port: int | None) -> str:
    return f"{COOKIE_PREFIX}{port}" if port else f"{COOKIE_PREFIX}0"


def reads(path: str) -> bool:
    """A path the viewer session may GET."""
    return any(path == p or path.startswith(p + "/") for p in READS)


@dataclass(frozen=True)
class Session:
    expires: float  # on the monotonic clock
    paths: tuple[str, ...]


class ViewerSessions:
    def __init__(self, ttl_s: float = SESSION_S, clock: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_s
        self.clock = clock
        self._sessions: OrderedDict[bytes, Session] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _digest(value: str) -> bytes:
        return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()

    def issue(self) -> str:
        value = PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[self._digest(value)] = Session(self.clock() + self.ttl_s, READS)
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return value

    def allows(self, value: str | None, path: str) -> bool:
        """Whether `value` is a live session that may read `path` (GET: the caller checks)."""
        if not value or not value.startswith(PREFIX):
            return False
        key = self._digest(value)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return False
            if session.expires <= self.clock():
                del self._sessions[key]
                return False
        return any(path == p or path.startswith(p + "/") for p in session.paths)
