"""Each callback's own state slot, and the registration rules that tie reading a state to order.

Real RunGroup/RunContext on SQLite, real registries; the callbacks here are small named ones
declaring `owns`/`reads`, and the default registry's own declarations.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from smolagents.memory import ActionStep, FinalAnswerStep, PlanningStep

from callbacks import default_registry
from callbacks.basin import BasinActivationCallback, BasinState
from callbacks.iwmt import IwmtCoherenceCallback, IwmtState
from callbacks.pruning import MemoryPruningCallback, PlaceholderPruningCallback, PruningState
from callbacks.registry import ALL, CallbackRegistry, callback_name, read_states
from callbacks.river import RiverFlowCallback, RiverState
from callbacks.tokens import TokenState, TokenUsageCallback, tokens_of
from callbacks.trace import TracePersistence, TraceState, persistence_for
from tests.unit.test_callbacks import StandIn, agent_ctx, group  # noqa: F401 - fixtures


@dataclass
class Counted:
    n: int = 0


class Callback:
    def __init__(self, name, owns=None, reads=()):
        self.name, self.owns, self.reads = name, owns, tuple(reads)

    def __call__(self, step, agent, ctx):
        pass


def test_a_state_slot_is_per_run_created_empty_and_typed(group):
    first = group.open_run(StandIn(group, name="one"), "task")
    second = group.open_run(StandIn(group, name="two"), "task")
    assert first.state(Counted) is first.state(Counted) and first.state(Counted).n == 0
    first.state(Counted).n = 3
    assert second.state(Counted).n == 0  # another run: its own slot
    assert isinstance(first.state(IwmtState), IwmtState) and first.state(IwmtState).coherence is None


def test_a_reader_must_run_after_the_owner_where_both_run():
    owner, reader = Callback("owner", owns=Counted), Callback("reader", reads=[Counted])
    registry = CallbackRegistry()
    registry.register(ActionStep, owner)
    with pytest.raises(ValueError, match=r"^callback reader reads Counted of owner, which runs on ActionStep too: declare after='owner'$"):
        registry.register(ActionStep, reader)
    registry.register(ActionStep, reader, after=["owner"])
    registry.register(ActionStep, Callback("late", reads=[Counted]), after=ALL)  # ALL: after the owner too
    # Where the owner does not run, the reader sees what it last wrote: no order to declare.
    registry.register(PlanningStep, reader)
    # An owner cannot join a step type after a callback that reads it there.
    with pytest.raises(ValueError, match=r"reader reads Counted and is registered for PlanningStep before its owner owner"):
        registry.register(PlanningStep, owner)
    # A reader of a state nobody owns in this registry: allowed, the slot stays empty.
    CallbackRegistry().register(ActionStep, Callback("alone", reads=[Counted]))


def test_a_state_has_one_owner_and_a_merge_checks_again():
    registry = CallbackRegistry()
    owner = Callback("owner", owns=Counted)
    registry.register(ActionStep, owner)
    registry.register(PlanningStep, owner)  # the same callback on another step type: one owner
    with pytest.raises(ValueError, match=r"^Counted is owned by callback owner already: a state has one owner$"):
        registry.register(FinalAnswerStep, Callback("usurper", owns=Counted))
    readers = CallbackRegistry()
    readers.register(ActionStep, Callback("reader", reads=[Counted]))
    with pytest.raises(ValueError, match="before its owner owner"):
        readers.merged(registry)  # the merge would run the reader before the owner
    with pytest.raises(ValueError, match="declare after='owner'"):
        registry.merged(readers)  # after it, but not declared so
    # A caller's registry cannot name the defaults it will be merged after: ALL says "after them".
    late = CallbackRegistry()
    late.register(ActionStep, Callback("reader", reads=[Counted]), after=ALL)
    assert [callback_name(e.callback) for e in registry.merged(late).entries()] == ["owner", "owner", "reader"]


def test_the_default_callbacks_own_and_read_as_documented(settings):
    tracer, registry = persistence_for(default_registry(settings))
    owners = {kind: callback_name(registry.owner_of(kind)) for kind in (IwmtState, BasinState, RiverState, PruningState, TokenState, TraceState)}
    assert owners == {
        IwmtState: "iwmt", BasinState: "basin_activation", RiverState: "river",
        PruningState: "memory_pruning", TokenState: "tokens", TraceState: "trace_persistence",
    }
    assert registry.owner_of(TraceState) is tracer
    assert RiverFlowCallback.reads == (IwmtState,) and TokenUsageCallback.reads == (PruningState,)
    assert set(TracePersistence.reads) == {TokenState, PruningState, BasinState}
    assert read_states(IwmtCoherenceCallback()) == read_states(BasinActivationCallback()) == read_states(MemoryPruningCallback()) == ()
    assert PlaceholderPruningCallback.owns is PruningState  # a pruning policy stands in for the other
    # Registered the wrong way round, the defaults are refused at registration.
    backwards = CallbackRegistry()
    backwards.register(PlanningStep, RiverFlowCallback())
    with pytest.raises(ValueError, match="river reads IwmtState and is registered for PlanningStep before its owner iwmt"):
        backwards.register(PlanningStep, IwmtCoherenceCallback())


def test_token_totals_add_up_the_runs_of_a_group(group):
    from callbacks.tokens import ModelCall

    runs = [group.open_run(StandIn(group, name=name), "task") for name in ("a", "b")]
    runs[0].state(TokenState).model_calls.append(ModelCall("action", 1, 100, 150, 10))
    runs[1].state(TokenState).model_calls.append(ModelCall("planning", 1, 40, 40, 5, estimated=True))
    totals = tokens_of(runs)
    assert (totals.prompt_tokens, totals.unpruned_prompt_tokens, totals.completion_tokens) == (140, 190, 15)
    assert (totals.model_calls, totals.estimated_calls, totals.saved_tokens) == (2, 1, 50)
    assert runs[0].state(TokenState).call("action", 1).prompt_tokens == 100
    assert runs[0].state(TokenState).call("planning", 1) is None
