"""What every MCP tool module shares: the server class, tool registration, annotations, argument
types and the error translation.

Argument errors are shaped here, once, for every tool: mcp 2.3 turns a pydantic
`ValidationError` into the tool error "Error executing tool X: 1 validation error for
XArguments … visit https://errors.pydantic.dev/…" (tools/base.py `Tool.run`); `DionysusMCP`
replaces that with one line per field ("strength: must be at most 1, got 7").
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, TypeVar

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import ToolAnnotations
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError

from dionysus_mcp.errors import DionysusError
from dionysus_mcp.store.base import StoreError

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
UPSERT = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
# Deleting twice leaves the same state, so destructive tools are idempotent too.
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


def _not_a_boolean(kind: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"must be {kind}, got {json.dumps(value)}")
        return value

    return check


# Numbers refuse JSON booleans (pydantic's lax mode reads `true` as 1). Otherwise lax on purpose:
# 5.0 is an integer to JSON Schema, and language models often send numbers as strings ("0.5").
# The limits come before the check so they stay in the inputSchema (minimum, maximum, ...): a
# validator placed before them would hide them from the schema.
def number(optional: bool = False, **limits: Any) -> Any:
    """A float with `Field` limits; `optional` also takes null (the limits apply to numbers)."""
    kind = float | None if optional else float
    return Annotated[kind, Field(**limits), BeforeValidator(_not_a_boolean("a number"))]


def whole(optional: bool = False, **limits: Any) -> Any:
    kind = int | None if optional else int
    return Annotated[kind, Field(**limits), BeforeValidator(_not_a_boolean("a whole number"))]


EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
FUTURE_SLACK = timedelta(days=366)


def plausible_moment(value: datetime) -> datetime:
    """Dates are of agent runs and memories: nothing before 2000, nothing over a year ahead
    (an epoch number like -1 would otherwise become a 1969 date)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    if value < EARLIEST:
        raise ValueError(f"must be on or after 2000-01-01, got {value.isoformat()} (give an ISO-8601 date)")
    latest = datetime.now(timezone.utc) + FUTURE_SLACK
    if value > latest:
        raise ValueError(f"must not be more than a year ahead, got {value.isoformat()}")
    return value


Moment = Annotated[datetime, AfterValidator(plausible_moment)]


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


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _location(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "arguments"


def field_problem(err: dict) -> str:
    """One pydantic error as "field: what is wrong, got what"."""
    kind, ctx, got = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        what = "is required"
    elif kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        bound = next(iter(ctx.values()))
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        phrase = {"greater_than_equal": "at least", "greater_than": "greater than",
                  "less_than_equal": "at most", "less_than": "less than"}[kind]
        what = f"must be {phrase} {bound}, got {_shown(got)}"
    elif kind == "string_too_short":
        what = "must not be empty" if ctx.get("min_length") == 1 else f"must be at least {ctx.get('min_length')} characters"
    elif kind == "string_too_long":
        what = f"is {len(got)} characters; the limit is {ctx.get('max_length')}"
    elif kind == "too_long":
        what = f"has {ctx.get('actual_length')} items; the limit is {ctx.get('max_length')}"
    elif kind in {"int_type", "int_parsing", "int_from_float"}:
        what = f"must be a whole number, got {_shown(got)}"
    elif kind in {"float_type", "float_parsing"}:
        what = f"must be a number, got {_shown(got)}"
    elif kind == "finite_number":
        what = f"must be a finite number, got {_shown(got)}"
    elif kind in {"bool_type", "bool_parsing"}:
        what = f"must be true or false, got {_shown(got)}"
    elif kind in {"string_type", "list_type"}:
        what = f"must be a {'string' if kind == 'string_type' else 'list'}, got {_shown(got)}"
    elif kind == "literal_error":
        what = f"must be one of {ctx.get('expected')}, got {_shown(got)}"
    elif kind.startswith("datetime") or kind.startswith("date_"):
        what = f"must be an ISO-8601 date-time such as 2026-11-24T10:00:00Z, got {_shown(got)}"
    elif kind == "value_error":
        what = str(ctx.get("error") or err["msg"])
    else:
        msg = err["msg"]
        what = f"{msg[:1].lower()}{msg[1:]}, got {_shown(got)}"
    return f"{_location(err['loc'])}: {what}"


def argument_problems(exc: ValidationError) -> str:
    """One line per field. A union (`int | None`) reports once per member: keep the first."""
    lines: list[str] = []
    seen: set[tuple] = set()
    for err in exc.errors():
        # Drop the union member's name pydantic puts in the location (e.g. 'float', 'none').
        loc = tuple(p for p in err["loc"] if isinstance(p, int) or not _is_type_tag(p))
        if loc in seen:
            continue
        seen.add(loc)
        lines.append(field_problem({**err, "loc": loc}))
    return "\n".join(lines)


def _is_type_tag(part: str) -> bool:
    return part in {"none", "float", "int", "str", "bool", "list", "datetime"} or part.startswith(("list[", "function-", "constrained-"))


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


def tool(
    server: MCPServer, title: str, annotations: ToolAnnotations, meta: dict[str, Any] | None = None
) -> Callable[[F], F]:
    """Register `fn` as a tool with a title, its docstring as one paragraph, and errors meant
    for the caller translated into ToolErrors. `meta` becomes the tool's `_meta` (e.g. the
    trace viewer's MCP App, `{"ui": {"resourceUri": …}}`)."""

    def decorate(fn: F) -> F:
        wrapped = explained(fn)
        server.tool(title=title, description=one_paragraph(fn.__doc__), annotations=annotations, meta=meta)(wrapped)
        return wrapped

    return decorate
