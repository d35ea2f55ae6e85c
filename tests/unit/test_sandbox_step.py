"""One code step's round trip, without a process: what the child makes of a step
(agents/sandbox/interpreter.run_step) and what the server makes of the child's message
(agents/sandbox/replies.step_outcome). tests/integration/test_manager_sandbox_limits.py runs whole
steps both in the child and in this process; tests/integration/test_manager_sandbox_child.py
the process around them."""

from __future__ import annotations

import os

import pytest
from smolagents import FinalAnswerTool
from smolagents.local_python_executor import InterpreterError

from agents.code_guard import CodeRefused
from agents.sandbox.replies import LOST, serve_call, step_outcome
from tests.sandbox_helpers import Broken, Echo, Helper
from agents.sandbox.channel import MAX_OBSERVATION
from agents.sandbox.interpreter import MAX_PRINT, GuardedInterpreter, ran_out_of_memory, run_step


def chain(length: int, memory_at: int | None, link: str = "__context__") -> BaseException:
    """An exception whose chain holds `length` exceptions, a MemoryError at index `memory_at`."""
    errors: list[BaseException] = [MemoryError() if i == memory_at else ValueError(i) for i in range(length)]
    for outer, inner in zip(errors, errors[1:]):
        setattr(outer, link, inner)
    return errors[0]


@pytest.mark.parametrize("link", ["__context__", "__cause__"])
def test_a_memory_error_is_found_among_the_first_20_of_a_chain(link):
    assert ran_out_of_memory(chain(1, 0, link))
    assert ran_out_of_memory(chain(25, 19, link))
    assert not ran_out_of_memory(chain(25, 20, link))  # past the walk: not looked at
    assert not ran_out_of_memory(chain(25, None, link))


def test_the_cause_is_followed_before_the_context():
    error = ValueError("outer")
    error.__cause__, error.__context__ = MemoryError(), ValueError("handled")
    assert ran_out_of_memory(error)
    error.__cause__, error.__context__ = ValueError("cause"), MemoryError()
    assert not ran_out_of_memory(error)


def test_a_looping_chain_ends_the_walk():
    first, second = ValueError(1), ValueError(2)
    first.__context__, second.__context__ = second, first
    assert not ran_out_of_memory(first)


def answering_none(escape_hatch: bool = False) -> GuardedInterpreter:
    """A fresh child-side interpreter whose every team call answers None."""
    return GuardedInterpreter(lambda name, args, kwargs: (True, None), escape_hatch=escape_hatch)


@pytest.fixture
def interpreter():
    return answering_none()


def test_run_step_answers_done_with_the_value_logs_and_final_flag(interpreter):
    assert run_step(interpreter, "print('hi')\n6 * 7") == {"t": "done", "output": 42, "logs": "hi\n", "final": False}
    assert run_step(interpreter, "final_answer('ok')")["final"] is True


def test_run_step_answers_error_with_text_logs_and_flags(interpreter):
    message = run_step(interpreter, "print('before')\n1 / 0")
    assert message["t"] == "error" and "division by zero" in message["error"]
    assert (message["logs"], message["memory"], message["refused"]) == ("before\n", False, False)
    refused = run_step(interpreter, "import os")
    assert refused["refused"] is True and refused["memory"] is False
    assert run_step(interpreter, "raise MemoryError('x')")["memory"] is True


def test_a_step_the_gate_refuses_reports_no_output_printed_by_an_earlier_step(interpreter):
    assert run_step(interpreter, "print('earlier')")["logs"] == "earlier\n"
    refused = run_step(interpreter, "import os")
    assert refused["refused"] is True and refused["logs"] == ""
    assert run_step(answering_none(), "import os")["logs"] == ""


def test_only_the_test_only_escape_hatch_hands_the_code_os_and_open():
    hatch = answering_none(escape_hatch=True)
    assert run_step(hatch, "[os.getpid(), open is not None]")["output"] == [os.getpid(), True]
    plain = run_step(answering_none(), "os.getpid()")
    assert plain["t"] == "error" and "os" in plain["error"]


def test_variables_with_names_the_gate_refuses_are_not_kept(interpreter):
    # The server filters them first (SafeExecutor.send_variables); this is the child's own check.
    interpreter.send_variables({"_operations_count": 0, "f_x": 1, "task": (1, 2)})
    assert "f_x" not in interpreter.state and interpreter.state["task"] == [1, 2]
    assert run_step(interpreter, "task")["output"] == [1, 2]


def test_the_print_buffer_is_bounded_however_it_is_added_to(interpreter):
    run_step(interpreter, "print('x')")
    buffer = interpreter.state["_print_outputs"]
    buffer.append("y" * (MAX_PRINT - 2))
    with pytest.raises(InterpreterError, match=f"print output over {MAX_PRINT:,} characters"):
        buffer.append("z")


def test_step_outcome_reads_done_and_caps_what_the_child_sent():
    state: dict = {}
    result = step_outcome({"t": "done", "output": "o" * (MAX_OBSERVATION + 500), "logs": "l", "final": False}, state)
    assert result.output.endswith("more characters cut]") and result.logs == "l" and not result.is_final_answer
    final = step_outcome({"t": "done", "output": "o" * (MAX_OBSERVATION + 500), "final": True}, state)
    assert final.output == "o" * (MAX_OBSERVATION + 500) and final.is_final_answer and final.logs == ""


@pytest.mark.parametrize(
    ("message", "kind", "text"),
    [
        ({"t": "error", "error": "bad", "logs": "p\n", "refused": True}, CodeRefused, "bad"),
        ({"t": "error", "error": "bad", "logs": "p\n"}, InterpreterError, "bad"),
        ({"t": "error", "error": "bad", "logs": "p\n", "memory": True}, InterpreterError, f"allocated over the 512 MB its process may use and was stopped; {LOST}"),
    ],
)
def test_step_outcome_raises_an_error_and_keeps_its_logs(message, kind, text):
    state: dict = {}
    with pytest.raises(kind) as info:
        step_outcome(message, state)
    assert str(info.value).endswith(text) and type(info.value) is kind
    assert state["_print_outputs"] == "p\n"


def test_step_outcome_refuses_any_other_message():
    with pytest.raises(InterpreterError, match="sent an unexpected message"):
        step_outcome({"t": "DONE", "output": 1}, {})


def test_step_outcome_reads_a_message_missing_its_texts_as_empty():
    state: dict = {"_print_outputs": "old"}
    with pytest.raises(InterpreterError) as info:
        step_outcome({"t": "error"}, state)
    assert str(info.value) == "" and state["_print_outputs"] == ""
    assert step_outcome({"t": "done"}, state).logs == ""


@pytest.fixture
def team():
    return {"echo": Echo(), "broken": Broken(), "helper": Helper()}


def test_serve_call_answers_final_answer_with_or_without_its_tool(team):
    assert serve_call(team, FinalAnswerTool(), "final_answer", (), {"answer": {"k": (1,)}}) == (True, {"k": [1]})
    assert serve_call(team, FinalAnswerTool(), "final_answer", (3,), {}) == (True, 3)
    ok, message = serve_call(team, FinalAnswerTool(), "final_answer", (), {})
    assert not ok and "answer" in message
    assert serve_call(team, None, "final_answer", (4,), {}) == (True, 4)
    assert serve_call(team, None, "final_answer", (), {}) == (True, None)


def test_serve_call_answers_tools_with_plain_data_agents_with_text_and_failures_with_messages(team):
    assert serve_call(team, None, "echo", ((1, 2),), {}) == (True, [1, 2])
    assert serve_call(team, None, "helper", ("t",), {}) == (True, "report on t with None")
    assert serve_call(team, None, "broken", ("x",), {}) == (False, "broken failed: broken by x")
    assert serve_call(team, None, "nobody", (), {}) == (False, "'nobody' is not a team member or tool")
    assert serve_call(team, None, "helper", ("a", "b"), {}) == (False, "helper takes task (text) and optional additional_args (a dict)")
