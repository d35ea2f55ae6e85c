"""The server's half of the channel's conversation, as plain functions: a call the code made,
answered (`serve_call`), and a step's last message read (`step_outcome`). agents/safe_executor.py
drives the child and hands its messages here; tests/sandbox_helpers.InProcessSandbox wires the
same functions to the child's half in one process (docs/mutation.md, "sandbox")."""

from __future__ import annotations

from typing import Any

from smolagents import MultiStepAgent, Tool
from smolagents.local_python_executor import CodeOutput, InterpreterError

from agents.code_guard import CodeRefused
from agents.sandbox.channel import bounded, cut, plain
from agents.sandbox.confine import MEMORY_BYTES

LOST = "the code's variables were lost with its process; the next step starts in a fresh one"


def serve_call(team: dict[str, MultiStepAgent | Tool], final_answer: Any, name: str, args: tuple, kwargs: dict[str, Any]) -> tuple[bool, Any]:
    """Run the team member, tool or final_answer the code called: (True, its text or plain
    data) or (False, the failure's message). Nothing else crosses."""
    if name == "final_answer":
        try:
            value = final_answer(*args, **kwargs) if final_answer is not None else (args[0] if args else None)
        except Exception as exc:  # noqa: BLE001
            return False, cut(str(exc))
        return True, plain(value)
    target = team.get(name)
    if target is None:
        return False, f"{name!r} is not a team member or tool"
    is_agent = isinstance(target, MultiStepAgent)
    if is_agent and (len(args) > 1 or set(kwargs) - {"task", "additional_args"}):
        return False, f"{name} takes task (text) and optional additional_args (a dict)"
    try:
        result = target(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - whatever failed, only its message crosses
        return False, cut(f"{name} failed: {exc}")
    return True, str(result) if is_agent else plain(result)


def step_outcome(message: dict[str, Any], state: dict[str, Any]) -> CodeOutput:
    """What a step's last message (agents/sandbox/interpreter.run_step) means here: the step's
    output, or its failure raised as CodeRefused (a guard refused) or InterpreterError, its
    printed output left in `state` where smolagents reads a failed step's logs. Every text is
    capped again: the child is not trusted to have cut it."""
    kind = message.get("t")
    if kind == "done":
        output = message.get("output")
        if not message.get("final"):
            output = output if not isinstance(output, str) else bounded(output)
        return CodeOutput(output=output, logs=bounded(str(message.get("logs", ""))), is_final_answer=bool(message.get("final")))
    if kind == "error":
        state["_print_outputs"] = bounded(str(message.get("logs", "")))
        if message.get("memory"):
            raise InterpreterError(
                f"the code step allocated over the {MEMORY_BYTES // 2**20} MB its process may use and was stopped; {LOST}"
            )
        error = bounded(str(message.get("error", "")))
        raise CodeRefused(error) if message.get("refused") else InterpreterError(error)
    raise InterpreterError(f"the code step's process sent an unexpected message and was stopped; {LOST}")
