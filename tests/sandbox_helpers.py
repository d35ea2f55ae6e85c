"""Shared by the sandbox tests: a small team (a tool, a failing tool, a model-less agent), the
child's half of the sandbox run in this process, and a look at the processes this test process
started."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from smolagents import MultiStepAgent, Tool
from smolagents.local_python_executor import CodeOutput, PythonExecutor

from agents.sandbox import channel
from agents.sandbox.interpreter import GuardedInterpreter, run_step
from agents.sandbox.launcher import CHILD_SCRIPT
from agents.sandbox.replies import serve_call, step_outcome


# Code that runs forever, each turn a C call of ~10 ms: smolagents' own cap of 1,000,000 loop
# turns, which a bare `pass` body reaches within 2-3 s on a fast quiet machine, is never reached,
# so only a step's time limit (or a cancel) ends it.
SPIN = "while True:\n    total = sum(range(1000000))"


def _crossed(message: dict[str, Any]) -> dict[str, Any]:
    """`message` as the other side of the channel reads it (JSON: tuples become lists...)."""
    return channel.decode(channel.encode(message))


class InProcessSandbox(PythonExecutor):
    """The child's half of the sandbox (code_guard's gate and guards, GuardedInterpreter,
    run_step) in this process, wired to the server's half (serve_call, step_outcome) through the
    channel's codec instead of a pipe: a step computes and answers what it does in the child,
    without the process around it (no time or memory limit, no confinement, no fork).

    Why: mutmut's mutants are switched inside the test process, and the child is an isolated
    `python -I -S` that cannot import them, so the mutation run (docs/mutation.md, "sandbox")
    tests the child's rules this way; test_manager_sandbox_limits.py runs each test both ways, so
    this one stays true to the child. scripts/speed_isolation.py times it against the child: it
    takes SafeExecutor's arguments, and ignores them."""

    def __init__(self, step_seconds: float = 0.0, cancelled: Any = None, **_: Any) -> None:
        self.team: dict[str, MultiStepAgent | Tool] = {}
        self.final_answer: Any = None
        self.interpreter = GuardedInterpreter(self._call)
        self.state: dict[str, Any] = {"_print_outputs": ""}  # as SafeExecutor.state

    def _call(self, name: str, args: tuple, kwargs: dict) -> tuple[bool, Any]:
        asked = _crossed({"t": "call", "name": name, "args": list(args), "kwargs": kwargs})
        ok, value = serve_call(self.team, self.final_answer, asked["name"], tuple(asked["args"]), asked["kwargs"])
        reply = _crossed({"t": "reply", "ok": ok, "value": value})
        return bool(reply["ok"]), reply["value"]

    def send_tools(self, tools: dict[str, Any]) -> None:
        self.final_answer = tools.get("final_answer")
        self.team = {name: target for name, target in tools.items() if name != "final_answer"}
        offered = {name: getattr(target, "description", None) for name, target in self.team.items()}
        self.interpreter.send_tools(_crossed({"t": "tools", "tools": offered})["tools"])

    def send_variables(self, variables: dict[str, Any]) -> None:
        sent = {str(k): channel.plain(v) for k, v in variables.items()}
        self.interpreter.send_variables(_crossed({"t": "vars", "values": sent})["values"])

    def __call__(self, code: str) -> CodeOutput:
        self.state["_print_outputs"] = ""
        return step_outcome(_crossed(run_step(self.interpreter, code)), self.state)

    def close(self) -> None:
        pass

    def cleanup(self) -> None:  # smolagents' name (CodeAgent.cleanup, at the end of a run)
        self.close()


class Echo(Tool):
    name = "echo"
    description = "Returns what it is given."
    inputs = {"value": {"type": "any", "description": "anything"}}
    output_type = "any"

    def forward(self, value):
        return value


class Broken(Tool):
    name = "broken"
    description = "Always fails."
    inputs = {"value": {"type": "any", "description": "anything", "nullable": True}}
    output_type = "any"

    def forward(self, value=None):
        raise RuntimeError(f"broken by {value}")


class Helper(MultiStepAgent):
    """A team member without a model: answers with what it was asked (and the extra arguments)."""

    def __init__(self):  # noqa: D107 - no model, no tools: only the call protocol is needed
        self.name = "helper"
        self.description = "A helper that repeats its task."
        self.calls: list[tuple[tuple, dict]] = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return _Report(kwargs.get("task", args[0] if args else None), kwargs.get("additional_args"))

    def initialize_system_prompt(self):  # abstract in MultiStepAgent
        return ""

    def _step_stream(self, memory_step):  # abstract in MultiStepAgent
        raise NotImplementedError


class _Report:
    """What an agent returns is not necessarily a str: the server makes it one."""

    def __init__(self, task, extra):
        self.task, self.extra = task, extra

    def __str__(self):
        return f"report on {self.task} with {self.extra}"


def code_children() -> list[tuple[int, str]]:
    """(pid, state) of every process running the manager's code that this process started,
    directly or through the fork server (zygotes excluded; zombies included)."""
    from agents.sandbox.forkserver import zygote_pid

    parents = {os.getpid(), zygote_pid()} - {None}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in parents:
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) in parents and CHILD_SCRIPT.encode() in cmdline:
            found.append((int(entry.name), fields[0]))
    return found


def stray_children(before: "set[int] | None" = None, within_s: float = 15.0) -> list[tuple[int, str]]:
    """Code children still alive or unreaped once every run has ended, but those in `before`
    (started by an earlier test that built a manager and never ran it). A run's child is ended
    beside it, after the run returns: given `within_s` to go."""
    import time

    old = before or set()
    deadline = time.monotonic() + within_s
    while (found := [c for c in code_children() if c[0] not in old]) and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def children_now() -> set[int]:
    return {pid for pid, _ in code_children()}
