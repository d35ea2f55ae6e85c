"""The process around the manager's code: what the child holds, and the limits the server holds
from outside (time, cancellation, memory, crashes), each ending only the child.

Each test drives a real `SafeExecutor` and its real child process (agents/sandbox/) with a small
team run by the server side; tests/integration/test_manager_sandbox.py runs the hostile payloads
through the manager as production builds it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import threading
import time
from pathlib import Path

import pytest
from smolagents import FinalAnswerTool, Tool
from smolagents.local_python_executor import InterpreterError

from agents.safe_executor import LOST, SafeExecutor
from agents.sandbox.channel import MAX_MESSAGE
from agents.sandbox.launcher import SandboxOptions
from tests.sandbox_helpers import Echo, Helper, children_now, code_children, stray_children

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


class Signal(Tool):
    """Sets an event when the code calls it: the test then knows the step is under way."""

    name = "signal"
    description = "Says the step has started."
    inputs = {}
    output_type = "any"

    def __init__(self):
        super().__init__()
        self.called = threading.Event()

    def forward(self):
        self.called.set()
        return "ok"


SLOW_S = 1.5


class Slow(Tool):
    name = "slow"
    description = "Takes its time."
    inputs = {}
    output_type = "any"

    def forward(self):
        threading.Event().wait(SLOW_S)  # a team member's own time
        return 1


def make(step_seconds: float = 20.0, cancelled: threading.Event | None = None, **options) -> SafeExecutor:
    ex = SafeExecutor(step_seconds=step_seconds, cancelled=cancelled, options=SandboxOptions(**options))
    ex.send_variables(variables={"task": "the task"})
    ex.send_tools({"final_answer": FinalAnswerTool(), "echo": Echo(), "helper": Helper(), "signal": Signal(), "slow": Slow()})
    return ex


@pytest.fixture
def executor():
    ex = make()
    yield ex
    ex.close()


def fails(ex: SafeExecutor, code: str) -> str:
    with pytest.raises(InterpreterError) as info:
        ex(code)
    return str(info.value)


# --- what the child holds ------------------------------------------------------------------------


def test_the_child_has_a_scratch_environment_no_descriptor_but_its_channel_and_an_empty_directory(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "server-only-secret-value")
    before = children_now()
    ex = make()  # started after the secret is in the server's environment
    try:
        ex.confinement  # ready
        pid = ex.child.pid
        proc = Path(f"/proc/{pid}")
        assert (proc / "environ").read_bytes() == b""
        assert sorted(int(fd) for fd in os.listdir(proc / "fd")) == [0, 1, 2]
        workdir = os.readlink(proc / "cwd")
        assert Path(workdir).name.startswith("dionysus-code-") and os.listdir(workdir) == []
        assert b"-I\x00-S\x00" in (proc / "cmdline").read_bytes()
    finally:
        ex.close()
    assert stray_children(before) == []
    deadline = time.monotonic() + 15
    while Path(workdir).exists() and time.monotonic() < deadline:  # removed with its child, beside the run
        time.sleep(0.02)
    assert not Path(workdir).exists()


def test_the_child_confines_itself_as_far_as_the_platform_allows(executor):
    applied = executor.confinement
    assert {"RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_CORE"} <= set(applied)
    assert "no_new_privs" in applied
    if ROOT:
        assert "user" in applied and "RLIMIT_NPROC" in applied
        uid = next(line for line in Path(f"/proc/{executor.child.pid}/status").read_text().splitlines() if line.startswith("Uid:"))
        assert uid.split()[1:] == ["65534"] * 4
    from agents.sandbox.confine import landlock_abi

    if landlock_abi() >= 6:
        assert f"landlock:{landlock_abi()}" in applied


def test_nothing_of_the_server_is_importable_in_the_child(executor):
    executor.confinement  # ready: it reported what it loaded
    loaded = executor.child.loaded
    expected = {
        "agents", "agents.code_guard", "agents.sandbox", "agents.sandbox.channel", "agents.sandbox.confine",
        "agents.sandbox.interpreter", "smolagents", "smolagents.local_python_executor", "smolagents.tools", "smolagents.utils",
    }
    # (forked by the fork server, it also holds the zygote's loop, agents/sandbox/zygote.py)
    assert set(loaded["modules"]) - {"agents.sandbox.zygote"} == expected
    # the standard library only: no site-packages, so not even the server's dependencies
    assert loaded["path"] and not [p for p in loaded["path"] if "site-packages" in p or "dist-packages" in p]
    # (its packages are registered with an empty __path__: `agents.runner` or `smolagents.agents`
    # cannot be found in them either)


# --- time ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def limited(ex: SafeExecutor, seconds: float):
    """The step under test gets `seconds`; the trivial steps around it keep the executor's
    budget (make's 20 s): a niced child on a loaded machine may wait longer than the limit under
    test just to be scheduled."""
    ex.step_seconds, saved = seconds, ex.step_seconds
    try:
        yield
    finally:
        ex.step_seconds = saved


def test_a_spinning_step_ends_at_its_limit_and_the_run_goes_on_in_a_fresh_child():
    ex = make()
    try:
        assert ex("kept = 1\nkept").output == 1
        first = ex.child.pid
        started = time.monotonic()
        with limited(ex, 0.5):
            message = fails(ex, "while True:\n    pass")
        assert time.monotonic() - started < 0.5 + 5  # its limit, plus the time to end the process
        assert message == f"the code step ran longer than 0.5 s (DIONYSUS_CODE_STEP_TIMEOUT) and was stopped; {LOST}"
        assert first not in [pid for pid, _ in code_children()]  # ended before the step returned
        assert "is not defined" in fails(ex, "kept")  # its variables went with it
        assert ex.child.pid != first
        assert ex("task").output == "the task"  # the run's own inputs are given to the fresh child
    finally:
        ex.close()


def test_one_long_builtin_call_is_stopped_at_the_limit():
    # One C call (a million modular squarings of a million-bit number) that no check between
    # evaluated nodes could interrupt.
    ex = make()
    try:
        started = time.monotonic()
        with limited(ex, 0.5):
            assert "ran longer than 0.5 s" in fails(ex, "m = (1 << 999999) + 1\npow(3, m - 2, m)")
        assert time.monotonic() - started < 0.5 + 5
        assert ex("1 + 1").output == 2
    finally:
        ex.close()


def test_the_time_spent_in_team_members_is_not_the_codes():
    # 3 s in team members against a 2.5 s step: counted, it would stop the step; the code's own
    # time gets the whole 2.5 s (a niced child on a loaded machine waits to be scheduled: 0.5 s
    # failed one load run in four).
    ex = make(step_seconds=2.5)
    try:
        assert 2 * SLOW_S > ex.step_seconds
        assert ex("[slow(), slow()]").output == [1, 1]
    finally:
        ex.close()


def test_the_server_is_idle_while_the_code_spins():
    ex = make(step_seconds=2.0)
    try:
        ex.confinement  # ready
        before = resource.getrusage(resource.RUSAGE_SELF)
        fails(ex, "while True:\n    pass")
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        ex.close()
    server_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert server_cpu < 0.5, f"the server used {server_cpu:.2f} s of CPU while the code spun for 2 s"


# --- cancellation ------------------------------------------------------------------------------------


def spinning_step(ex: SafeExecutor) -> tuple[threading.Thread, list[str]]:
    """A thread (not started) running a step that signals, then spins; and the error it ends with."""
    outcome: list[str] = []

    def step() -> None:
        try:
            ex("signal()\nwhile True:\n    pass")
        except InterpreterError as exc:
            outcome.append(str(exc))

    return threading.Thread(target=step), outcome


def test_a_step_cancelled_mid_spin_ends_at_once():
    cancelled = threading.Event()
    ex = make(step_seconds=60.0, cancelled=cancelled)
    worker, outcome = spinning_step(ex)
    try:
        started = time.monotonic()
        worker.start()
        assert ex.team["signal"].called.wait(30)  # the step is under way
        cancelled.set()
        ex.interrupt()  # what the run group's cancel() does (agents/base.py)
        worker.join(30)
        assert not worker.is_alive() and time.monotonic() - started < 30
        assert outcome == [f"the run was cancelled and the code step stopped; {LOST}"]
        assert "the run was cancelled" in fails(ex, "1")  # a cancelled run runs no further step
    finally:
        ex.close()


def test_an_interrupt_of_another_run_does_not_stop_this_one():
    cancelled = threading.Event()
    ex = make(cancelled=cancelled)
    try:
        ex.interrupt()  # its cancellation event is not set: not this run's
        assert ex("2").output == 2
    finally:
        ex.close()


# --- memory, crashes and garbage ------------------------------------------------------------------------


def test_a_memory_blow_up_ends_the_child_not_the_server():
    ex = make(step_seconds=25.0)
    try:
        started = time.monotonic()
        message = fails(ex, "a = []\nwhile True:\n    a.append(list(range(1000000)))")
        assert message == f"the code step allocated over the 512 MB its process may use and was stopped; {LOST}"
        assert time.monotonic() - started < 25
        assert ex("'still here'").output == "still here"
    finally:
        ex.close()


@pytest.mark.parametrize(("code", "how"), [
    ("os.kill(os.getpid(), 11)", "killed by SIGSEGV"),
    ("os.abort()", "killed by SIGABRT"),
    ("os.kill(os.getpid(), 9)", "killed by SIGKILL"),
])
def test_a_child_that_crashes_costs_one_step(code, how):
    ex = make(escape_hatch=True)  # the crash is simulated with the test-only `os`
    try:
        message = fails(ex, code)
        assert message == f"the code step's process ended unexpectedly ({how}) and the step was stopped; {LOST}"
        assert ex("3").output == 3
    finally:
        ex.close()


@pytest.mark.parametrize(("code", "how"), [
    (f"for i in range({MAX_MESSAGE // 500000 + 1}):\n    os.write(1, b'x' * 500000)", f"it sent a message over {MAX_MESSAGE:,} bytes"),
    ("os.write(1, b'not json\\n')", "it sent garbled data"),
])
def test_a_child_that_sends_garbage_is_ended(code, how):
    ex = make(escape_hatch=True)
    try:
        assert how in fails(ex, code)
        assert ex("4").output == 4
    finally:
        ex.close()


# --- lifetimes ------------------------------------------------------------------------------------


def test_a_closed_executor_leaves_no_process_and_starts_fresh_when_used_again():
    ex = make()
    try:
        assert ex("kept = 5\nkept").output == 5
        pid = ex.child.pid
        ex.close()
        assert ex.child is None
        assert pid not in [p for p, _ in stray_children(children_now() - {pid})]  # ended beside the run
        assert "is not defined" in fails(ex, "kept")  # nothing of the last run's variables
        assert ex.child.pid != pid
    finally:
        ex.close()


def test_the_child_is_warm_before_the_first_step():
    ex = make()
    try:
        # Started when the executor was built (the manager is built before its first model
        # call), with nobody waiting for it: the first step finds it there.
        assert ex._spawning is not None
        ex._spawning.join(30)
        assert ex.child is not None and ex.child.process.poll() is None
        started = time.monotonic()
        assert ex("1").output == 1
        assert ex.child.confinement is not None
    finally:
        ex.close()
    assert time.monotonic() - started < 30


def test_the_server_entry_point_makes_its_process_undumpable():
    """`dionysus-mcp serve` calls it first: a same-user process cannot read its /proc/<pid>/environ."""
    import subprocess
    import sys

    code = (
        "import ctypes; from agents.sandbox.confine import make_undumpable; libc = ctypes.CDLL(None);"
        "before = libc.prctl(3, 0, 0, 0, 0); ok = make_undumpable(); print(before, ok, libc.prctl(3, 0, 0, 0, 0))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2])
    assert out.stdout.split() == ["1", "True", "0"]  # PR_GET_DUMPABLE before and after
    cli = (Path(__file__).parents[2] / "dionysus_mcp" / "surface" / "cli.py").read_text()
    assert "make_undumpable()" in cli


def test_a_cancel_ends_the_step_even_when_the_fork_server_cannot_answer():
    # The zygote reports its children's ends; a zygote that cannot (stopped here, as a wedged
    # or starved one would be) must not hold the run: the step ends within the kill wait.
    from agents.sandbox import forkserver
    from agents.sandbox.launcher import KILL_WAIT_S, STOP_GRACE_S

    cancelled = threading.Event()
    ex = make(step_seconds=60.0, cancelled=cancelled)
    worker, outcome = spinning_step(ex)
    zygote = None
    try:
        worker.start()
        assert ex.team["signal"].called.wait(30)
        zygote = forkserver.zygote_pid()
        assert zygote is not None  # the child was forked by the fork server
        child = ex.child.pid
        os.kill(zygote, signal.SIGSTOP)
        started = time.monotonic()
        cancelled.set()
        ex.interrupt()
        worker.join(30)
        assert not worker.is_alive() and time.monotonic() - started < STOP_GRACE_S + KILL_WAIT_S + 5
        assert outcome == [f"the run was cancelled and the code step stopped; {LOST}"]
    finally:
        if zygote is not None:
            os.kill(zygote, signal.SIGCONT)  # it then passes the kill on and reaps the child
        ex.close()
    deadline = time.monotonic() + 30
    while child in [pid for pid, _ in code_children()] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert child not in [pid for pid, _ in code_children()]


def test_a_process_forked_from_this_one_leaves_its_fork_server_alone(executor):
    # A pre-forking server or a test runner forks after the fork server started: the forked
    # process ending (its exit handlers close "the" fork server) must not end this process's.
    from agents.sandbox import forkserver

    assert executor("1 + 1").output == 2
    zygote = forkserver.zygote_pid()
    assert zygote is not None
    pid = os.fork()
    if pid == 0:  # the forked process: what its interpreter's exit does, then gone
        try:
            forkserver.close()
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    time.sleep(0.5)  # a zygote told to stop would be gone by now
    assert forkserver.zygote_pid() == zygote
    assert executor("2 + 2").output == 4
    assert forkserver.zygote_pid() == zygote  # the same server forked that child too
