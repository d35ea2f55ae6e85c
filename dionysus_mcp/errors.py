"""Errors the services raise for a caller to act on, and how to find one in a chain.

The MCP layer turns them into `ToolError`s carrying the same message, the REST API into JSON
4xx responses and the command line into one line on stderr: the message must say what to fix.
"""

from typing import TypeVar

E = TypeVar("E", bound=BaseException)


def find_cause(exc: BaseException | None, kind: type[E], depth: int = 10) -> E | None:
    """The first `kind` in `exc`'s chain of causes and contexts (libraries wrap what matters:
    smolagents an endpoint's failure, the MCP SDK a client's disconnect); bounded, as a chain
    may loop."""
    seen = 0
    while exc is not None and seen < depth:
        if isinstance(exc, kind):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


class CallCancelled(Exception):
    """A run's service call given up because its run was cancelled (`Runtime.call_unless`): not
    a user's error, the run stops at its next step boundary."""


class DionysusError(Exception):
    """Base of every error meant for the user."""


class InvalidInput(DionysusError, ValueError):
    """An argument is out of range, empty, or otherwise unusable."""


class NotFound(DionysusError, LookupError):
    """A named thing (basin, trace) does not exist."""
