"""Errors the services raise for a caller to act on.

The MCP layer turns them into `ToolError`s carrying the same message, the REST API into JSON
4xx responses and the command line into one line on stderr: the message must say what to fix.
"""


class DionysusError(Exception):
    """Base of every error meant for the user."""


class InvalidInput(DionysusError, ValueError):
    """An argument is out of range, empty, or otherwise unusable."""


class NotFound(DionysusError, LookupError):
    """A named thing (basin, trace) does not exist."""
