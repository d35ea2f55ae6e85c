"""A cancelled run's thread is never held by a service call still waiting (Runtime.call_unless):
the callbacks' and tools' calls give up when the run's flag is set, and the callback wrapper
says so without recording a failure."""

from __future__ import annotations

import functools
import anyio
import anyio.to_thread
import pytest
from smolagents.memory import PlanningStep

from agents.runner import _bridge
from agents.tools import make_tools
from callbacks.context import CancelSignal, RunGroup
from callbacks.iwmt import IwmtCoherenceCallback
from callbacks.registry import CallbackRegistry
from dionysus_mcp.errors import CallCancelled, InvalidInput
from tests.helpers import planning_step


async def memories(runtime) -> int:
    return (await runtime.store.memories.stats()).total


class StandIn:
    def __init__(self, group: RunGroup):
        self.name, self.run_group, self.step_number = "tester", group, 1

    def interrupt(self) -> None:
        pass


@pytest.mark.parametrize("where", ["another thread", "the event loop"])  # a cancel request, the runner
async def test_a_call_waiting_when_its_run_is_cancelled_lets_the_thread_go(runtime, where):
    cancelled, started, never = CancelSignal(), anyio.Event(), anyio.Event()
    finished: list[str] = []

    async def waits_for_the_store() -> str:  # what a call queued behind another process looks like
        started.set()
        try:
            await never.wait()
            return "done"
        finally:
            finished.append("left")

    outcome: list[BaseException | str] = []
    # The bound only ends a broken build's wait (the call would never return): no timing is tested.
    try:
        with anyio.fail_after(60):
            await _cancel_while_waiting(runtime, cancelled, started, waits_for_the_store, outcome, where)
    finally:
        assert not never.is_set()
        never.set()  # on a broken build the call still waits: release it, so the test ends
    [result] = outcome
    assert isinstance(result, CallCancelled)
    assert finished == ["left"]  # the call itself was cancelled before anything released it


async def _cancel_while_waiting(runtime, cancelled, started, waits_for_the_store, outcome, where) -> None:
    async with anyio.create_task_group() as tasks:

        def in_the_run_thread() -> None:
            try:
                outcome.append(runtime.call_unless(cancelled, waits_for_the_store))
            except CallCancelled as exc:
                outcome.append(exc)

        tasks.start_soon(functools.partial(anyio.to_thread.run_sync, in_the_run_thread, abandon_on_cancel=True))
        await started.wait()
        assert outcome == []  # still waiting: nothing but the flag can end it
        if where == "the event loop":
            cancelled.set()
        else:
            await anyio.to_thread.run_sync(cancelled.set)


async def test_a_call_passes_its_result_and_its_own_error_through(runtime):
    cancelled = CancelSignal()
    record = await anyio.to_thread.run_sync(
        lambda: runtime.call_unless(cancelled, runtime.memory.remember, "the walk after lunch helps")
    )
    assert (await runtime.memory.get(record.memory_id)).content == "the walk after lunch helps"
    with pytest.raises(InvalidInput):  # itself, not wrapped in an exception group
        await anyio.to_thread.run_sync(lambda: runtime.call_unless(cancelled, runtime.memory.remember, "  "))


async def test_a_run_already_cancelled_makes_no_call(runtime):
    cancelled = CancelSignal()
    cancelled.set()
    with pytest.raises(CallCancelled):
        await anyio.to_thread.run_sync(lambda: runtime.call_unless(cancelled, runtime.memory.remember, "never stored"))
    assert await memories(runtime) == 0


async def test_a_callback_stopped_by_a_cancel_records_no_failure(runtime):
    group = RunGroup(runtime, "scripted")
    agent = StandIn(group)
    ctx = group.open_run(agent, "test task")
    registry = CallbackRegistry()
    registry.register(PlanningStep, IwmtCoherenceCallback())
    [callback] = registry.get_registry(agent.name)[PlanningStep]
    group.cancel()
    step = planning_step()
    await anyio.to_thread.run_sync(lambda: callback(step, agent=agent))  # what smolagents does
    assert "[IWMT]" not in step.plan
    assert [e.kind for e in ctx.events] == []  # neither a coherence reading nor a callback_error


async def test_a_tool_of_a_cancelled_run_makes_no_call(runtime):
    cancelled = CancelSignal()
    [remember] = make_tools(runtime, ["remember"], cancelled)
    stored = await anyio.to_thread.run_sync(lambda: remember(content="kept before the cancel"))
    assert stored.startswith("Remembered mem-") and await memories(runtime) == 1
    cancelled.set()
    with pytest.raises(Exception) as caught:
        await anyio.to_thread.run_sync(lambda: remember(content="asked after the cancel"))
    assert isinstance(caught.value, CallCancelled) or isinstance(caught.value.__cause__, CallCancelled)
    assert await memories(runtime) == 1


async def test_a_progress_report_held_by_a_slow_client_lets_a_cancelled_run_go(runtime, caplog):
    started, never = anyio.Event(), anyio.Event()
    sent: list[str] = []

    async def client_that_stopped_reading(value, total, message) -> None:
        sent.append(message)
        started.set()
        await never.wait()

    group = RunGroup(runtime, "scripted", progress=_bridge(runtime, client_that_stopped_reading))
    ctx = group.open_run(StandIn(group), "test task")
    try:
        with anyio.fail_after(60):  # as above: only a broken build waits this long
            async with anyio.create_task_group() as tasks:
                report = functools.partial(group.report, ctx, "step 1")
                tasks.start_soon(functools.partial(anyio.to_thread.run_sync, report, abandon_on_cancel=True))
                await started.wait()
                await anyio.to_thread.run_sync(group.cancel)
    finally:
        assert not never.is_set()
        never.set()
    await anyio.to_thread.run_sync(functools.partial(group.report, ctx, "step 2"))  # cancelled: not sent
    assert sent == ["step 1"]
    assert "progress report failed" not in caplog.text  # a cancel is not a client failure
