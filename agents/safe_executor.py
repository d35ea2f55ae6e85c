"""The executor the ConsciousnessManager's code runs in: smolagents' local executor, made
capability-safe and bounded.

smolagents hands a CodeAgent's code its managed agents and tools as the live objects, so one
attribute chain led from `perception` to the runtime, its settings and the raw database
connection. Here the code's namespace holds only:

- one plain function per team member and tool (`team_function`): it takes text (and plain
  data), runs the real agent or tool, and returns a `str` (or plain data). A function object
  has no public attribute; its closure, globals and code are dunders, which the executor and
  `code_guard` refuse; a failure comes back as a fresh `TeamMemberFailed` carrying only text;
- smolagents' safe built-ins, minus `setattr` and `type`, with `getattr`/`hasattr` refusing the
  names `code_guard` refuses, `iter` with one argument only (`iter(int, 1)` never ends inside
  C), a bounded `range`, and `map`/`filter`/`sum`/`pow` that check the step's limits;
- no module at all: no import is authorized (the manager orchestrates; it computes nothing).

Every step is checked and rewritten by `code_guard.guard_code` first, then runs under
`StepLimits`: its own wall time (time spent inside team members is not the code's, they have
their own budgets), the run's cancellation and the process's memory growth are checked at
every evaluated node (through the per-step operation counter smolagents reads at each node),
and the print buffer is bounded. A step over a limit fails with an `InterpreterError`, which
smolagents records as the step's error observation; the run goes on.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from smolagents import MultiStepAgent, Tool
from smolagents.local_python_executor import (
    BASE_PYTHON_TOOLS,
    CodeOutput,
    InterpreterError,
    LocalPythonExecutor,
    PrintContainer,
)

from agents.code_guard import AMPLIFYING_METHODS, GUARDS, MAX_ITEMS, MAX_RENDER, CodeRefused, forbidden, guard_code, guarded_binop, rendered_size

DEFAULT_STEP_SECONDS = 10.0
MEMORY_GROWTH = 256 * 1024 * 1024  # bytes of resident memory one step may add
MEMORY_CHECK_EVERY = 64  # evaluated nodes between two resident-memory reads
MAX_PRINT = 200_000  # characters of print output per step
MAX_PLAIN_DEPTH = 8


class TeamMemberFailed(Exception):
    """A team member or tool the code called failed; the message says which and why."""


def _resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None  # not Linux: the memory check is off, the size guards still apply


class StepLimits:
    """The bounds of one code step, checked at every node the executor evaluates."""

    def __init__(self, seconds: float, cancelled: threading.Event | None = None):
        self.seconds = seconds
        self.cancelled = cancelled
        self.start()

    def start(self) -> None:
        self.started = time.monotonic()
        self.outside = 0.0  # seconds spent in team members and tools, which have their own bounds
        self.checks = 0
        self.resident = _resident_bytes()
        self.memory_exceeded = False

    def check(self) -> None:
        if self.cancelled is not None and self.cancelled.is_set():
            raise InterpreterError("the run was cancelled")
        if time.monotonic() - self.started - self.outside > self.seconds:
            raise InterpreterError(
                f"the code step ran longer than {self.seconds:g} s (DIONYSUS_CODE_STEP_TIMEOUT) and was stopped"
            )
        self.checks += 1
        if self.resident is not None and self.checks % MEMORY_CHECK_EVERY == 0:
            now = _resident_bytes()
            if now is not None and now - self.resident > MEMORY_GROWTH:
                self.memory_exceeded = True
                raise InterpreterError(f"the code step allocated over {MEMORY_GROWTH // 2**20} MB and was stopped")

    @contextlib.contextmanager
    def outside_code(self) -> Iterator[None]:
        entered = time.monotonic()
        try:
            yield
        finally:
            self.outside += time.monotonic() - entered


class _OperationCounter:
    """Stands in for smolagents' per-step `{"counter": n}`, which the executor reads at every
    node it evaluates: reading it checks the step's limits. Writes only count (code that
    reaches it through the executor's fuzzy name lookup cannot reset it)."""

    __slots__ = ("count", "limits")

    def __init__(self, limits: StepLimits):
        self.limits = limits
        self.count = 0

    def __getitem__(self, key: str) -> int:
        self.limits.check()
        return self.count

    def __setitem__(self, key: str, value: Any) -> None:
        self.count += 1


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
    """The executor's variables. smolagents resets the counter and print buffer per step by
    assigning them here; this swaps in the bounded versions."""

    def __init__(self, limits: StepLimits):
        super().__init__(__name__="__main__")
        self.limits = limits

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "_operations_count":
            value = _OperationCounter(self.limits)
        elif key == "_print_outputs" and not isinstance(value, _BoundedPrint):
            value = _BoundedPrint()
        super().__setitem__(key, value)


def plain(value: Any, depth: int = 0) -> Any:
    """JSON-like data only: anything else becomes a placeholder naming its type."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth < MAX_PLAIN_DEPTH and isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if depth < MAX_PLAIN_DEPTH and isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v, depth + 1) for v in value]
    return f"<{type(value).__name__}>"


def team_function(name: str, target: MultiStepAgent | Tool, limits: StepLimits) -> Callable[..., Any]:
    """The plain function the code calls for a team member (returns its report as text) or a
    tool (returns plain data). Only text and plain data cross in either direction."""
    is_agent = isinstance(target, MultiStepAgent)

    def call(*args: Any, **kwargs: Any) -> Any:
        args, kwargs = tuple(plain(a) for a in args), {str(k): plain(v) for k, v in kwargs.items()}
        if is_agent and (len(args) > 1 or set(kwargs) - {"task", "additional_args"}):
            raise TypeError(f"{name} takes task (text) and optional additional_args (a dict)")
        failure = None
        with limits.outside_code():
            try:
                result = target(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - whatever failed, only its message crosses
                failure = f"{name} failed: {exc}"
        if failure is not None:
            raise TeamMemberFailed(failure)  # raised outside the except: no __context__ chain
        return str(result) if is_agent else plain(result)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = getattr(target, "description", None)
    return call


def safe_builtins(limits: StepLimits) -> dict[str, Any]:
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

    def checked_map(fn: Callable[..., Any], *iterables: Any) -> Iterator[Any]:
        for items in zip(*iterables):
            limits.check()
            yield fn(*items)

    def checked_filter(fn: Callable[[Any], Any] | None, iterable: Any) -> Iterator[Any]:
        for item in iterable:
            limits.check()
            if (fn(item) if fn is not None else item):
                yield item

    def numeric_sum(iterable: Any, start: int | float = 0) -> Any:
        if not isinstance(start, (int, float, complex)):
            raise CodeRefused("sum adds numbers; join text with ''.join(...)")
        return sum(iterable, start)

    def guarded_pow(base: Any, exp: Any, mod: Any = None) -> Any:
        return pow(base, exp, mod) if mod is not None else guarded_binop("**", base, exp)

    tools = {k: v for k, v in BASE_PYTHON_TOOLS.items() if k not in ("setattr", "type")}
    tools.update(
        getattr=safe_getattr,
        hasattr=safe_hasattr,
        iter=one_argument_iter,
        range=bounded_range,
        map=checked_map,
        filter=checked_filter,
        sum=numeric_sum,
        pow=guarded_pow,
    )
    return {**tools, **GUARDS}


class SafeExecutor(LocalPythonExecutor):
    """smolagents' local executor with the namespace, checks and limits above."""

    def __init__(self, step_seconds: float = DEFAULT_STEP_SECONDS, cancelled: threading.Event | None = None):
        # timeout_seconds=None: smolagents' own timeout runs the code in a pool thread and, on
        # timeout, still waits for it to finish; StepLimits stops the code itself instead.
        super().__init__(additional_authorized_imports=[], timeout_seconds=None)
        self.authorized_imports: list[str] = []  # smolagents always adds its base modules; none here
        self.limits = StepLimits(step_seconds, cancelled)
        self.state = _GuardedState(self.limits)

    def send_tools(self, tools: dict[str, Any]) -> None:
        namespace: dict[str, Any] = {}
        for name, target in tools.items():
            if name == "final_answer":
                namespace[name] = target  # smolagents wraps it in a plain closure of its own
            elif isinstance(target, (MultiStepAgent, Tool)):
                namespace[name] = team_function(name, target, self.limits)
            else:
                raise TypeError(f"{name}: only agents and tools can be given to the manager's code")
        self.static_tools = {**namespace, **safe_builtins(self.limits)}

    def send_variables(self, variables: dict[str, Any]) -> None:
        self.state.update({k: plain(v) for k, v in variables.items() if not forbidden(str(k))})

    def __call__(self, code_action: str) -> CodeOutput:
        code = guard_code(code_action)
        self.limits.start()
        try:
            result = super().__call__(code)
        except InterpreterError:
            if self.limits.memory_exceeded:
                # What the step built stays in the variables; drop them, or each step adds its share.
                for name in [k for k in self.state if not k.startswith("_")]:
                    del self.state[name]
                self.state["__name__"] = "__main__"
            raise
        except Exception:
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit & co. raised by the code itself
            # `raise SystemExit` is allowed Python; out of the worker it would end the run (or the
            # server). smolagents' executor catches only Exception.
            raise InterpreterError(f"raising {type(exc).__name__} is not allowed") from None
        output = plain(result.output)
        if rendered_size(output) > MAX_RENDER:
            output = f"<a value of over {MAX_RENDER:,} characters, not shown>"
        return CodeOutput(output=output, logs=result.logs, is_final_answer=result.is_final_answer)

