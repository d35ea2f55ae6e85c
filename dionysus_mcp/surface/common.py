"""What every MCP tool module shares: the server class, tool registration from an operation's
input model, annotations and the error translation.

A tool's parameters are its operation's input model (dionysus_mcp/inputs.py): `operation_tool`
gives the handler a signature built from the model's fields, so mcp publishes their types,
limits, descriptions and examples as the inputSchema and validates calls against them.

Argument errors are shaped here, once, for every tool: mcp 2.3 turns a pydantic
`ValidationError` into the tool error "Error executing tool X: 1 validation error for
XArguments … visit https://errors.pydantic.dev/…" (tools/base.py `Tool.run`); `DionysusMCP`
replaces that with one line per field ("strength: must be at most 1, got 7"), phrased by
dionysus_mcp/inputs.py as the agents' tools phrase theirs.
"""

from __future__ import annotations

import functools
import inspect
import logging
import typing
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import ToolAnnotations
from pydantic import Field, ValidationError

from dionysus_mcp.errors import DionysusError
from dionysus_mcp.inputs import Operation, argument_problems
from dionysus_mcp.store.base import StoreError

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
UPSERT = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
# Deleting twice leaves the same state, so destructive tools are idempotent too.
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


# --- error translation ----------------------------------------------------------------------


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


def one_paragraph(doc: str | None) -> str:
    """A docstring as one clean paragraph: no indentation, no hard line breaks."""
    return " ".join((doc or "").split())


class DionysusMCP(MCPServer):
    """MCPServer whose argument errors read as one line per field, and which tells `activity`
    (the runtime's WarmUp, dionysus_mcp/warm_up.py) when a tool call starts and ends."""

    activity: Any = None

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        activity = self.activity
        if activity is not None:
            activity.request_started()
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                shaped = ToolError(argument_problems(exc.__cause__))
                # The server logs which fields were refused from the cause; keep it.
                raise shaped from exc.__cause__
            raise
        finally:
            if activity is not None:
                activity.request_finished()


def _parameter(name: str, info: Any) -> inspect.Parameter:
    """A model field as a keyword parameter mcp reads back into the same field: the type with
    its constraints and validators, and the field's description, examples and title."""
    annotation = Annotated[(info.annotation, *info.metadata, Field(description=info.description, examples=info.examples, title=info.title))]
    default = inspect.Parameter.empty if info.is_required() else info.get_default(call_default_factory=True)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def operation_tool(
    server: MCPServer, operation: type[Operation], annotations: ToolAnnotations, meta: dict[str, Any] | None = None
) -> Callable[[F], F]:
    """Register `fn(args, **extras)` as the tool `operation.tool`: its parameters are the
    operation's fields (`args` is the operation, built from them), its title and description the
    operation's; `extras` are the handler's other parameters (an mcp `Context`). `meta` becomes
    the tool's `_meta` (e.g. the trace viewer's MCP App, `{"ui": {"resourceUri": …}}`)."""

    def decorate(fn: F) -> F:
        hints = typing.get_type_hints(fn)
        extras = list(inspect.signature(fn).parameters.values())[1:]
        fields = [_parameter(name, info) for name, info in operation.model_fields.items()]

        async def handler(**kwargs: Any) -> Any:
            given = {p.name: kwargs.pop(p.name) for p in extras if p.name in kwargs}
            # mcp has validated the arguments against these very fields.
            return await fn(operation.model_construct(**kwargs), **given)

        params = fields + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[p.name]) for p in extras]
        handler.__name__ = handler.__qualname__ = operation.tool
        handler.__signature__ = inspect.Signature(params, return_annotation=hints["return"])  # type: ignore[attr-defined]
        handler.__annotations__ = {**{p.name: p.annotation for p in params}, "return": hints["return"]}
        wrapped = explained(handler)
        server.tool(
            name=operation.tool, title=operation.title, description=one_paragraph(operation.__doc__),
            annotations=annotations, meta=meta,
        )(wrapped)
        return wrapped  # type: ignore[return-value]

    return decorate
