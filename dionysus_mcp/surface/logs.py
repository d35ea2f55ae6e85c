"""Logging: one handler on stderr (stdout belongs to the MCP protocol on stdio) whose every line,
at every level and from every library, passes through one redaction before it is written.

What is masked, wherever it appears in a line (message, arguments, traceback):
- the secrets the process knows (`ProcessSecrets`: the HTTP token, the Neo4j password, every
  `*_API_KEY` / `*_TOKEN` / `*_SECRET` / `*_PASSWORD` variable — dionysus_mcp/secrets.py);
- the value of any query parameter named like a credential (`?token=`, `api_key=`, `password=`,
  `session=` …): the access log prints request lines, and a wrong token is still someone's
  secret;
- viewer session values (`dvs_…`, surface/http/sessions.py) and `Bearer` / `Basic` credentials.

Masking the formatted line, rather than trusting each logger to leave secrets out, holds for a
library's DEBUG line nobody has read. Events of the network are one line each (`NetworkEvents`).
"""

from __future__ import annotations

import logging
import re
import sys

from dionysus_mcp.errors import find_cause
from dionysus_mcp.secrets import MASK, ProcessSecrets

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_QUERY = re.compile(
    r"(?i)([?&;](?:[\w.-]*(?:token|key|password|passwd|secret|session|auth|signature|sig|code))=)[^&;#\s\"'<>]*"
)
_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{4,}")
SESSION_PATTERN = re.compile(r"dvs_[A-Za-z0-9_-]{16,}")


def redact(text: str, secrets: ProcessSecrets) -> str:
    text = secrets.mask(text)
    text = _QUERY.sub(rf"\g<1>{MASK}", text)
    text = _CREDENTIAL.sub(rf"\g<1>\g<2>{MASK}", text)
    return SESSION_PATTERN.sub(f"dvs_{MASK}", text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks (see the module docstring)."""

    def __init__(self, secrets: ProcessSecrets, fmt: str = FORMAT):
        super().__init__(fmt)
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


def _disconnected(exc: BaseException | None) -> bool:
    from starlette.requests import ClientDisconnect

    return find_cause(exc, ClientDisconnect, depth=8) is not None


class NetworkEvents(logging.Filter):
    """Events of the network, not errors of the server, as one line each:
    - a client that closed its connection before its request was complete: INFO (uvicorn and
      the MCP SDK log it as an ERROR traceback of the handler);
    - asyncio out of file descriptors while accepting (it logs a traceback per refused accept,
      thousands a second under a flood; surface/http/limits.py keeps this from happening): one
      WARNING line at most every ACCEPT_EVERY_S."""

    ACCEPT_EVERY_S = 10.0

    def __init__(self) -> None:
        super().__init__()
        self._accept_reported = float("-inf")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and _disconnected(record.exc_info[1]):
            record.msg, record.args = "a client disconnected before its request was complete (%s)", (record.getMessage(),)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
            return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        if record.name == "asyncio" and "out of system resource" in str(record.msg):
            if record.created - self._accept_reported < self.ACCEPT_EVERY_S:
                return False
            self._accept_reported = record.created
            error = record.exc_info[1] if record.exc_info else None
            record.msg, record.args = "cannot accept connections: %s (the open-file limit is reached)", (error,)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def setup_logging(level: str, secrets: ProcessSecrets) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets))
    handler.addFilter(NetworkEvents())
    logging.basicConfig(level=level, handlers=[handler], force=True)
