"""What every MCP tool module shares: annotations and the error translation."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import ToolAnnotations

from dionysus_mcp.errors import DionysusError
from dionysus_mcp.store.base import StoreError

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
UPSERT = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def _translating(error: type[Exception]) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except DionysusError as exc:
                raise error(str(exc)) from exc
            except StoreError as exc:
                log.warning("store error in %s: %s", fn.__name__, exc)
                raise error(f"The store could not complete {fn.__name__}: {exc}. Try again shortly.") from exc

        return wrapper  # type: ignore[return-value]

    return decorate


# Errors meant for the caller keep their message: mcp 2.3 reports any other exception from a
# tool only as "Error executing tool X", and from a resource as "Error creating resource".
explained = _translating(ToolError)
explained_resource = _translating(ResourceError)
