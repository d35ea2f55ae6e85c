"""The one channel between the server and the child that runs the manager's code: JSON lines
of plain data over the child's stdin and stdout, and the caps on what crosses it.

Loaded by file path in the child (stdlib only, no package around it), imported normally in the
server. Every text that goes back toward the model is cut here, with a note of how much was cut.
"""

from __future__ import annotations

import json
from typing import Any

MAX_MESSAGE = 4 * 1024 * 1024  # bytes of one line; the server ends a child that sends more
MAX_OBSERVATION = 20_000  # characters of printed output, error text or shown value per step
MAX_FINAL = 200_000  # characters a final answer may render to
MAX_PLAIN_DEPTH = 8
MAX_INT_BITS = 10_000  # int -> text is refused past 4,300 digits (about 14,000 bits)


NOTE_ROOM = 200  # what the child's notes may add to a text it cut


def bounded(text: str) -> str:
    """The server's own cap on a text from the child (which cut it already, with its note)."""
    return cut(text, MAX_OBSERVATION + NOTE_ROOM)


def cut(text: str, limit: int = MAX_OBSERVATION) -> str:
    """`text` up to `limit` characters, then a note of how many were cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... {len(text) - limit:,} more characters cut]"


def plain(value: Any, depth: int = 0) -> Any:
    """JSON-like data only: anything else becomes a placeholder naming its type."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        return f"<int of {value.bit_length():,} bits>"  # past what int-to-text conversion allows
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth < MAX_PLAIN_DEPTH and isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if depth < MAX_PLAIN_DEPTH and isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v, depth + 1) for v in value]
    return f"<{type(value).__name__}>"


def encode(message: dict[str, Any]) -> bytes:
    # Integers past the str-conversion limit and NaN are made plain text rather than failing.
    return (json.dumps(message, ensure_ascii=False, default=repr) + "\n").encode("utf-8", "surrogatepass")


def decode(line: bytes) -> dict[str, Any]:
    """One message; ValueError when the line is not a JSON object."""
    message = json.loads(line.decode("utf-8", "surrogatepass"))
    if not isinstance(message, dict) or not isinstance(message.get("t"), str):
        raise ValueError("not a message")
    return message
