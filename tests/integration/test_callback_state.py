"""On the real loop, each callback touches only its own state slot and the ones it declares.

One OODA cycle (scripted manager and sub-agents, the real smolagents loop, SQLite), built as the
runner builds it, with trace persistence; every callback and the persistence's run hooks are
watched: which state classes each asked its run for.
"""

from __future__ import annotations

import anyio.to_thread

from agents.manager import build_manager
from agents.runner import ooda_task
from agents.scripted import ScriptedModel
from callbacks import default_registry
from callbacks.context import RunGroup, RunObserver
from callbacks.registry import CallbackRegistry, callback_name, owned_state, read_states
from callbacks.trace import persistence_for
from tests.helpers import CONTEXT


class Watched:
    """A callback as registered (same name, owns, reads), noting the states it asks for."""

    def __init__(self, callback, seen):
        self.callback, self.seen = callback, seen
        self.name, self.owns, self.reads = callback_name(callback), owned_state(callback), read_states(callback)

    def __call__(self, step, agent, ctx):
        with watching(ctx, self.name, self.seen):
            self.callback(step, agent, ctx)


class WatchedObserver(RunObserver):
    def __init__(self, observer, seen):
        self.observer, self.seen, self.name = observer, seen, callback_name(observer)

    def run_started(self, ctx):
        with watching(ctx, self.name, self.seen):
            self.observer.run_started(ctx)

    def run_finished(self, ctx):
        with watching(ctx, self.name, self.seen):
            self.observer.run_finished(ctx)


class watching:
    def __init__(self, ctx, name, seen):
        self.ctx, self.name, self.seen = ctx, name, seen

    def __enter__(self):
        real = self.ctx.state

        def state(kind):
            self.seen.add((self.name, kind))
            return real(kind)

        self.ctx.state = state  # this run, for the length of one hook (one thread runs it)

    def __exit__(self, *exc):
        del self.ctx.state


async def test_each_callback_reads_only_its_own_state_and_those_it_declares(rt):
    seen: set = set()
    tracer, defaults = persistence_for(default_registry(rt.settings))
    watched = {}
    registry = CallbackRegistry()
    for entry in defaults.entries():
        wrapper = watched.setdefault(id(entry.callback), Watched(entry.callback, seen))
        registry.register(entry.step_type, wrapper, entry.agents, entry.after)  # checked again
    registry.set_prompt_view(defaults.prompt_view)
    group = RunGroup(rt, "scripted", observers=[WatchedObserver(tracer, seen)])
    manager = build_manager(rt, ScriptedModel, group, registry)
    await anyio.to_thread.run_sync(manager.run, ooda_task(CONTEXT))
    assert group.root.status == "success" and len(group.contexts) == 4

    declared = {w.name: {w.owns, *w.reads} - {None} for w in watched.values()}
    asked: dict[str, set] = {}
    for name, kind in seen:
        asked.setdefault(name, set()).add(kind)
    for name, kinds in asked.items():
        assert kinds <= declared[name], f"{name} asked for {kinds - declared[name]} without declaring it"
    # Every declaration is used (none is stale), and the callbacks without state asked for none.
    assert {name: kinds for name, kinds in asked.items()} == {name: kinds for name, kinds in declared.items() if kinds}
