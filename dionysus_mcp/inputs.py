"""What every operation's input model shares: the base class, numbers that refuse booleans,
plausible dates, and reading a field's limits back.

One contract per operation: the service that performs it owns one pydantic model of its inputs
(`cognition/inputs.py`, `traces/inputs.py`, `agents/inputs.py`) — names, types, limits,
descriptions, examples and defaults, written once. Everything else is derived from it:

- the MCP tool's parameters (`surface/common.py`, `operation_tool`: the handler's signature is
  built from the model's fields, so mcp publishes their limits in the tool's inputSchema);
- the agents' smolagents tools' `inputs` (`agents/tools.py`, `smolagents_inputs`);
- the limits the services check, for callers that bypass MCP (the agents, the CLI, REST);
- the README's tool table, checked against the models by tests/unit/test_operation_contracts.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, ClassVar

import annotated_types as at
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError


class Operation(BaseModel):
    """The inputs of one operation. The class docstring is the operation's description."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: ClassVar[str]  # the operation's name as a tool (MCP and, where the agents have it, smolagents)
    title: ClassVar[str]  # the MCP tool's title

    @classmethod
    def bound(cls, field: str, kind: str) -> Any:
        """A bound of `field` (`min_length`, `max_length`, `ge`, `gt`, `le`, `lt`), as written
        in the model (of a list's items: `item_bound`)."""
        return _bound(cls.model_fields[field].metadata, kind, f"{cls.__name__}.{field}")

    @classmethod
    def item_bound(cls, field: str, kind: str) -> Any:
        """A bound of the items of the list field `field` (e.g. each tag's `max_length`)."""
        annotation = cls.model_fields[field].annotation
        item = next(a for a in _list_items(annotation))
        return _bound(getattr(item, "__metadata__", ()), kind, f"{cls.__name__}.{field}[]")

    @classmethod
    def span(cls, field: str) -> tuple[Any, Any]:
        """The lowest and highest value of a number field (`ge` or `gt`, `le` or `lt`)."""
        return tuple(_either(cls, field, kinds) for kinds in (("ge", "gt"), ("le", "lt")))  # type: ignore[return-value]

    @classmethod
    def default_of(cls, field: str) -> Any:
        return cls.model_fields[field].get_default(call_default_factory=True)


def _either(cls: type[Operation], field: str, kinds: tuple[str, str]) -> Any:
    try:
        return cls.bound(field, kinds[0])
    except KeyError:
        return cls.bound(field, kinds[1])


def shown(bound: float) -> str:
    """A limit as a message writes it: 1 not 1.0."""
    return f"{bound:g}"


def _list_items(annotation: Any) -> list[Any]:
    from typing import get_args, get_origin

    found = []
    for arg in (annotation, *get_args(annotation)):
        if get_origin(arg) is list:
            found.extend(get_args(arg))
    return found


_BOUNDS = {"min_length": at.MinLen, "max_length": at.MaxLen, "ge": at.Ge, "gt": at.Gt, "le": at.Le, "lt": at.Lt}


def _bound(metadata: Any, kind: str, where: str) -> Any:
    for item in metadata:
        if isinstance(item, _BOUNDS[kind]):
            return getattr(item, kind)
        for nested in getattr(item, "metadata", ()):  # a FieldInfo carried in Annotated
            if isinstance(nested, _BOUNDS[kind]):
                return getattr(nested, kind)
    raise KeyError(f"{where} has no {kind} limit")


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


def text(min_length: int = 1, **field: Any) -> Any:
    """A string of `min_length` to `max_length` characters."""
    return Annotated[str, Field(min_length=min_length, **field)]


def texts(item_max: int, **field: Any) -> Any:
    """A list of non-empty strings of at most `item_max` characters each."""
    return Annotated[list[Annotated[str, Field(min_length=1, max_length=item_max)]], Field(**field)]


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


# --- refused inputs, one line per field ('strength: must be at most 1, got 7') ---------------


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
