"""Inside the child: smolagents' local executor with the guard in front and a namespace that
holds nothing but plain functions.

This is the first layer (defence in depth); the boundary is the process around it. The code's
namespace holds only:
- one plain function per team member, tool and `final_answer` (`remote`): it sends the call as
  plain data over the channel and returns the server's reply (text or plain data); a failure
  comes back as a fresh `TeamMemberFailed` carrying only text;
- smolagents' safe built-ins, minus `setattr` and `type`, with `getattr`/`hasattr` refusing the
  names `code_guard` refuses, `iter` with one argument only (`iter(int, 1)` never ends inside
  C), a bounded `range`, and `sum`/`pow` through the size guards;
- no module at all: no import is authorized.
Every step is checked and rewritten by `code_guard.guard_code` first. Time, memory and
cancellation are not checked here: the server holds them, from outside (agents/safe_executor.py).
"""

from __future__ import annotations

import os
import reprlib
from collections.abc import Callable, Iterator
from typing import Any

from smolagents.local_python_executor import BASE_PYTHON_TOOLS, CodeOutput, InterpreterError, LocalPythonExecutor, PrintContainer

from agents.code_guard import AMPLIFYING_METHODS, GUARDS, MAX_ITEMS, CodeRefused, forbidden, guard_code, guarded_binop, rendered_size
from agents.sandbox.channel import MAX_FINAL, MAX_OBSERVATION, cut, plain

MAX_PRINT = 200_000  # characters of print output per step (the server shows at most MAX_OBSERVATION)

Call = Callable[[str, tuple, dict], Any]  # (name, args, kwargs) -> the server's reply


class TeamMemberFailed(Exception):
    """A team member or tool the code called failed; the message says which and why."""


class _BoundedPrint(PrintContainer):
    def append(self, text: str) -> "_BoundedPrint":
        return self.__iadd__(text)

    def __iadd__(self, other: Any) -> "_BoundedPrint":
        text = str(other)
        if len(self.value) + len(text) > MAX_PRINT:
            raise InterpreterError(f"print output over {MAX_PRINT:,} characters in one step")
        self.value += text
        return self


class _GuardedState(dict):
    """The executor's variables. smolagents resets the print buffer per step by assigning it
    here; this swaps in the bounded version. (smolagents' own state starts with `__name__`,
    which nothing reads when imports and classes are refused.)"""

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "_print_outputs" and not isinstance(value, _BoundedPrint):
            value = _BoundedPrint()
        super().__setitem__(key, value)


def remote(name: str, call: Call) -> Callable[..., Any]:
    """The plain function the code calls for a team member, a tool or final_answer."""

    def member(*args: Any, **kwargs: Any) -> Any:
        ok, value = call(name, tuple(plain(a) for a in args), {str(k): plain(v) for k, v in kwargs.items()})
        if not ok:
            raise TeamMemberFailed(value)
        return value

    member.__name__ = member.__qualname__ = name
    return member


def safe_builtins() -> dict[str, Any]:
    def safe_getattr(obj: Any, name: str, *default: Any) -> Any:
        if not isinstance(name, str) or forbidden(name):
            raise CodeRefused(f"attribute {name!r} is not accessible")
        if name in AMPLIFYING_METHODS:  # its size guard applies to direct calls only
            raise CodeRefused(f"call .{name}(...) directly, not through getattr")
        return getattr(obj, name, *default)

    def safe_hasattr(obj: Any, name: str) -> bool:
        return isinstance(name, str) and not forbidden(name) and hasattr(obj, name)

    def one_argument_iter(obj: Any) -> Iterator[Any]:
        return iter(obj)

    def bounded_range(*args: int) -> range:
        r = range(*args)
        if len(r) > MAX_ITEMS:
            raise CodeRefused(f"range of {len(r):,} numbers: the limit is {MAX_ITEMS:,}")
        return r

    def numeric_sum(iterable: Any, start: int | float = 0) -> Any:
        if not isinstance(start, (int, float, complex)):
            raise CodeRefused("sum adds numbers; join text with ''.join(...)")
        return sum(iterable, start)

    def guarded_pow(base: Any, exp: Any, mod: Any = None) -> Any:
        return pow(base, exp, mod) if mod is not None else guarded_binop("**", base, exp)

    tools = {k: v for k, v in BASE_PYTHON_TOOLS.items() if k not in ("setattr", "type")}
    tools.update(getattr=safe_getattr, hasattr=safe_hasattr, iter=one_argument_iter, range=bounded_range, sum=numeric_sum, pow=guarded_pow)
    return {**tools, **GUARDS}


def shown(value: Any, limit: int) -> Any:
    """A step's value as the server may receive it: plain data, or a cut text when it renders
    to more than `limit` characters."""
    value = plain(value)
    if rendered_size(value, limit) > limit:
        short = reprlib.Repr()  # bounded at every level: never renders the whole value
        short.maxstring, short.maxlevel = limit, 4  # plain data: every other repr is short
        short.maxlist = short.maxdict = short.maxtuple = 1_000
        return f"{cut(short.repr(value), limit)}\n[a value rendering to over {limit:,} characters, shortened]"
    return value


class GuardedInterpreter(LocalPythonExecutor):
    """smolagents' local executor with the namespace and guards above."""

    def __init__(self, call: Call, escape_hatch: bool = False):
        # timeout_seconds=None: smolagents' own timeout runs the code in a pool thread; the
        # server ends this whole process instead. The print buffer holds at most MAX_PRINT, so
        # smolagents never truncates it (its own way, which keeps the tail): `cut` does, below.
        super().__init__(additional_authorized_imports=[], timeout_seconds=None, max_print_outputs_length=MAX_PRINT)
        self.authorized_imports: list[str] = []  # smolagents always adds its base modules; none here
        self.call = call
        self.state = _GuardedState()
        # Test-only (tests/integration/test_manager_sandbox_escape.py): hands the code `os` and
        # `open`, to show the process boundary holds without this layer.
        self.escape_hatch = escape_hatch
        self.static_tools = self._namespace([])

    def _namespace(self, team: list[str]) -> dict[str, Any]:
        names = {name: remote(name, self.call) for name in team if not forbidden(name)}
        names["final_answer"] = remote("final_answer", self.call)
        extra = {"os": os, "open": open} if self.escape_hatch else {}
        return {**names, **safe_builtins(), **extra}

    def send_tools(self, tools: dict[str, Any]) -> None:
        """`tools`: name -> description of what the server offers; the code gets a function per
        name (it cannot read a docstring: `__doc__` is a private name to the gate)."""
        self.static_tools = self._namespace([str(k) for k in tools])

    def send_variables(self, variables: dict[str, Any]) -> None:
        self.state.update({k: plain(v) for k, v in variables.items() if not forbidden(str(k))})

    def __call__(self, code_action: str) -> CodeOutput:
        self.state["_print_outputs"] = _BoundedPrint()  # a step the gate refuses printed nothing
        code = guard_code(code_action)
        try:
            result = super().__call__(code)
        except Exception:
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit & co. raised by the code itself
            # smolagents' executor catches only Exception; out of it, `raise SystemExit` would end
            # the step's process rather than the step.
            raise InterpreterError(f"raising {type(exc).__name__} is not allowed") from None
        limit = MAX_FINAL if result.is_final_answer else MAX_OBSERVATION
        return CodeOutput(output=shown(result.output, limit), logs=cut(result.logs), is_final_answer=result.is_final_answer)


def ran_out_of_memory(exc: BaseException) -> bool:
    """Whether a MemoryError is among the first 20 exceptions of `exc`'s chain (smolagents wraps
    the code's own error in its InterpreterError; a chain may be long or loop)."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, MemoryError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1  # type: ignore[assignment]
    return False


def run_step(interpreter: GuardedInterpreter, code: str) -> dict[str, Any]:
    """One code step, as the message the child sends back: "done" with the step's value, printed
    output and whether it is the final answer, or "error" with the failure as text only."""
    try:
        result = interpreter(code)
    except Exception as exc:  # noqa: BLE001 - every failure goes back as text
        logs = str(interpreter.state["_print_outputs"])
        refused = isinstance(exc, CodeRefused)  # the gate's or a size guard's refusal
        return {"t": "error", "error": cut(str(exc)), "logs": cut(logs), "memory": ran_out_of_memory(exc), "refused": refused}
    return {"t": "done", "output": result.output, "logs": result.logs, "final": result.is_final_answer}
