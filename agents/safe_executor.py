"""The executor the ConsciousnessManager's code runs through: a child process of its own, driven
from the server like smolagents' remote executors drive theirs (`send_tools`, `send_variables`,
`__call__(code) -> CodeOutput`), done locally.

The server process holds the credentials, the settings and the store; the child holds none of
them (agents/sandbox/: a scratch environment, no inherited descriptor but its channel, OS limits
it sets on itself before reading code, and the guard of agents/code_guard.py inside). What
crosses is plain data: the code, the step's printed output and value, and each call the code
makes to a team member, a tool or `final_answer` — which the server runs here, with the real
agent, and answers with text (or plain data for a tool).

The limits are held here, out of the code's reach:
- time: each step has `step_seconds` of its own; time spent in team members is not the code's
  (they have their own budgets). Past it the child is ended (terminate, then kill);
- cancellation: `interrupt()` (the run group's cancel) ends a child mid-step at once;
- memory: the child's address space is capped; a step that runs out ends its child;
- a child that crashes (a segfault in the interpreter, a CPU limit) costs only itself.
A stopped step is an error observation saying why and that the code's variables were lost with
the process; the next step runs on a fresh child, started at once so it is warm when needed.
The waiting thread blocks on a queue: the server's event loop and the GIL stay free meanwhile.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
import weakref
from typing import Any

from smolagents import MultiStepAgent, Tool
from smolagents.local_python_executor import CodeOutput, InterpreterError, PythonExecutor

from agents.code_guard import forbidden
from agents.sandbox.channel import MAX_MESSAGE, plain
from agents.sandbox.launcher import Child, SandboxOptions
from agents.sandbox.replies import LOST, serve_call, step_outcome

log = logging.getLogger(__name__)

DEFAULT_STEP_SECONDS = 10.0
BOOT_SECONDS = 30.0  # a child answers "ready" in ~0.05 s; this bounds a machine under heavy load
DEFAULT_MAX_STEPS = 50

__all__ = ["DEFAULT_STEP_SECONDS", "LOST", "SafeExecutor", "SandboxOptions"]


def _stop_all(children: list[Child]) -> None:
    while children:
        children.pop().stop()


class SafeExecutor(PythonExecutor):
    """Runs each code step in the current child; see the module's docstring."""

    def __init__(
        self,
        step_seconds: float = DEFAULT_STEP_SECONDS,
        cancelled: threading.Event | None = None,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        options: SandboxOptions | None = None,
    ):
        self.step_seconds = step_seconds
        self.cancelled = cancelled
        self.options = options or SandboxOptions()
        # RLIMIT_CPU, a backstop behind the wall clock here: the run's whole code budget.
        self.cpu_seconds = math.ceil(step_seconds * max_steps) + 5
        self.team: dict[str, MultiStepAgent | Tool] = {}
        self.final_answer: Any = None
        self.variables: dict[str, Any] = {}
        self.state: dict[str, Any] = {"_print_outputs": ""}  # smolagents reads a failed step's output here
        self.inbox: "queue.Queue[tuple[Any, str, Any]]" = queue.Queue()
        self._children: list[Child] = []  # the current child, when there is one
        self._closed = False
        self._lock = threading.Lock()  # the current child and what it was sent
        self._spawning: threading.Thread | None = None
        self._finalizer = weakref.finalize(self, _stop_all, self._children)
        # Warm: the child is forked while the manager is built and the model writes the first step.
        self._spawn_in_background()

    # --- the child ---------------------------------------------------------------------------
    @property
    def child(self) -> Child | None:
        return self._children[0] if self._children else None

    def _spawn(self) -> Child:
        child = Child(self.inbox, self.cpu_seconds, self.options)
        with self._lock:  # what send_tools / send_variables stored before it existed
            self._children.append(child)
            if self.team or self.final_answer is not None:
                child.send({"t": "tools", "tools": self._offered()})
            if self.variables:
                child.send({"t": "vars", "values": self.variables})
        return child

    def _spawn_in_background(self) -> None:
        def spawn() -> None:
            try:
                self._spawn()
            except Exception as exc:  # noqa: BLE001 - the step that needs it starts one and says why
                log.warning("could not start a process for the manager's code: %s", exc)

        self._spawning = threading.Thread(target=spawn, name="code-child-spawn", daemon=True)
        self._spawning.start()

    def _spawned(self) -> None:
        if self._spawning is not None:
            self._spawning.join()
            self._spawning = None

    def _end(self, child: Child, respawn: bool = True) -> None:
        with self._lock:
            if child in self._children:
                self._children.remove(child)
        child.stop()
        if respawn and not self._closed:
            self._spawn_in_background()

    def _ready(self) -> Child:
        self._spawned()
        if self.child is None:
            self._closed = False
            self._spawn()
        child = self.child
        assert child is not None
        if child.confinement is not None:
            return child
        deadline = time.monotonic() + BOOT_SECONDS
        while True:
            source, kind, message = self._next(deadline - time.monotonic(), child)
            if kind == "cancel":
                self._end(child)
                raise InterpreterError("the run was cancelled")
            if kind != "message" or message.get("t") != "ready":
                how = "it did not answer in time" if kind == "timeout" else child.ended_how()
                detail = child.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
                log.warning("the code's process could not start (%s) %s", how, detail[0])
                self._end(child, respawn=False)
                raise InterpreterError(f"the code's process could not start ({how}); try the step again")
            child.confinement = [str(c) for c in message.get("confinement", [])]
            child.loaded = {"modules": message.get("modules", []), "path": message.get("path", [])}
            log.debug("code child %s ready, confined by %s", child.pid, ", ".join(child.confinement) or "nothing")
            return child

    def _next(self, timeout: float, child: Child) -> tuple[Any, str, Any]:
        """The next event of `child` (or a cancellation); ("timeout") when none came in time."""
        while True:
            try:
                source, kind, message = self.inbox.get(timeout=max(timeout, 0.0))
            except queue.Empty:
                return None, "timeout", None
            if kind == "cancel":
                if self.cancelled is None or self.cancelled.is_set():
                    return source, kind, message
                continue  # not this run's cancellation
            if source is child:
                return source, kind, message
            # an event of a child already ended: ignore it

    @property
    def confinement(self) -> list[str]:
        """What the current child reported it is confined by (waits until it is ready)."""
        return list(self._ready().confinement or [])

    # --- smolagents' PythonExecutor interface ------------------------------------------------
    def _offered(self) -> dict[str, str | None]:
        return {name: getattr(target, "description", None) for name, target in self.team.items()}

    def send_tools(self, tools: dict[str, Any]) -> None:
        team: dict[str, MultiStepAgent | Tool] = {}
        for name, target in tools.items():
            if name == "final_answer":
                self.final_answer = target
            elif isinstance(target, (MultiStepAgent, Tool)):
                team[name] = target
            else:
                raise TypeError(f"{name}: only agents and tools can be given to the manager's code")
        with self._lock:
            self.team = team
            if self.child is not None:
                self.child.send({"t": "tools", "tools": self._offered()})

    def send_variables(self, variables: dict[str, Any]) -> None:
        with self._lock:
            self.variables.update({str(k): plain(v) for k, v in variables.items() if not forbidden(str(k))})
            if self.child is not None:
                self.child.send({"t": "vars", "values": self.variables})

    def interrupt(self) -> None:
        """The run was cancelled: a step in progress ends now, with its child."""
        self.inbox.put((None, "cancel", None))

    def __call__(self, code_action: str) -> CodeOutput:
        self.state["_print_outputs"] = ""
        if self.cancelled is not None and self.cancelled.is_set():
            raise InterpreterError("the run was cancelled")
        child = self._ready()
        if not child.send({"t": "run", "code": code_action}):
            self._end(child)
            raise InterpreterError(f"the code's process ended before the step ran ({child.ended_how()}); {LOST}")
        budget = self.step_seconds
        while True:
            waited = time.monotonic()
            source, kind, message = self._next(budget, child)
            budget -= time.monotonic() - waited
            if kind == "timeout":
                self._end(child)
                raise InterpreterError(
                    f"the code step ran longer than {self.step_seconds:g} s (DIONYSUS_CODE_STEP_TIMEOUT) and was stopped; {LOST}"
                )
            if kind == "cancel":
                self._end(child)
                raise InterpreterError(f"the run was cancelled and the code step stopped; {LOST}")
            if kind != "message":
                how = {"oversized": f"it sent a message over {MAX_MESSAGE:,} bytes", "garbled": "it sent garbled data"}
                reason = how.get(kind) or child.ended_how()
                log.warning("the code's process ended (%s)", reason)
                self._end(child)
                raise InterpreterError(f"the code step's process ended unexpectedly ({reason}) and the step was stopped; {LOST}")
            reply = self._handle(child, message)
            if reply is not None:
                return reply

    def _handle(self, child: Child, message: dict[str, Any]) -> CodeOutput | None:
        kind = message.get("t")
        if kind == "call":
            child.send(self._serve(message))  # the code waits; its clock does not run meanwhile
            return None
        if kind not in ("done", "error") or message.get("memory"):
            self._end(child)  # a process that sent nonsense or ran out of memory is not used again
        return step_outcome(message, self.state)

    def _serve(self, message: dict[str, Any]) -> dict[str, Any]:
        name, args, kwargs = message.get("name"), message.get("args"), message.get("kwargs")
        if not isinstance(name, str) or not isinstance(args, list) or not isinstance(kwargs, dict):
            return {"t": "reply", "ok": False, "value": "malformed call"}
        ok, value = serve_call(self.team, self.final_answer, name, tuple(args), kwargs)
        return {"t": "reply", "ok": ok, "value": value}

    # --- the end of a run ----------------------------------------------------------------------
    def close(self) -> None:
        """End the child and forget the run's variables; used again, the executor starts a
        fresh child (`_ready`)."""
        self._spawned()
        with self._lock:
            self._closed = True
            self.variables = {}
            children = list(self._children)
            self._children.clear()
        if children:  # ended beside the run, not on its way out (terminate, reap: a few ms)
            threading.Thread(target=_stop_all, args=(children,), name="code-child-stop", daemon=True).start()

    def cleanup(self) -> None:  # smolagents' name (CodeAgent.cleanup, called at the end of a run)
        self.close()
