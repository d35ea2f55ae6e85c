"""Which callback runs on which step type, for which agent; and the guard that keeps a failing
callback from stopping a run.

A callback is any callable `callback(step, agent, ctx)`: the smolagents memory step just
finished, the agent that ran it, and that agent's `RunContext`. Order is declared, not implied:
a callback is registered with the names of the callbacks it runs after (`after=`, or `ALL`: every
callback registered for that step type before it), each of which must be registered for that
step type already — a missing one, or a callback after itself, is an error at registration — so
registration order is always an order that honours them.

State is owned: a callback that keeps records declares its state class (`owns = IwmtState`: a
small dataclass, one per run, `ctx.state(IwmtState)`), and one that reads another's declares it
(`reads = (IwmtState,)`). Registration checks the two against the order: a state has one owner;
a callback reading a state whose owner runs on the same step type must run after it (name it in
`after`), and an owner cannot be registered for a step type after a callback that reads it
there. (A reader of a state whose owner runs on other step types only — river's ActionStep
reads the coherence iwmt left at the last PlanningStep — sees what the owner last wrote; an
owner that is not registered at all leaves the slot empty.)

The prompt view (how the agent renders memory into a prompt: memory pruning's folding and
planning summaries) is handed over explicitly (`set_prompt_view`), never looked up by name. `get_registry(agent_name)`
returns the `step_callbacks` dict smolagents 1.26 accepts ({PlanningStep: [...], ActionStep:
[...], FinalAnswerStep: [...]}), each callback wrapped so an exception is logged, recorded on
the run context, and swallowed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from smolagents.memory import ActionStep, FinalAnswerStep, MemoryStep, PlanningStep

from callbacks.context import RunContext
from dionysus_mcp.errors import CallCancelled

log = logging.getLogger(__name__)

STEP_TYPES: tuple[type[MemoryStep], ...] = (PlanningStep, ActionStep, FinalAnswerStep)


class StepCallback(Protocol):
    """Also, optionally: `name`, `owns` (its state class) and `reads` (the state classes of the
    callbacks it runs after that it reads)."""

    def __call__(self, step: Any, agent: Any, ctx: RunContext) -> None: ...


class _All:
    def __repr__(self) -> str:
        return "ALL"


ALL = _All()  # after=ALL: after every callback registered for the step type before it


@dataclass(frozen=True)
class _Entry:
    step_type: type[MemoryStep]
    callback: StepCallback
    agents: frozenset[str] | None  # None: every agent
    after: "tuple[str, ...] | _All" = ()  # names of the callbacks it runs after (registered before it)


class PromptView(Protocol):
    def prompt_view(self, steps: list[Any], ctx: RunContext | None, summary_mode: bool = False) -> list[Any]: ...


def context_of(agent: Any) -> RunContext | None:
    """The open run context of an agent built by agents/ (it carries its `run_group`)."""
    group = getattr(agent, "run_group", None)
    return group.current(agent) if group is not None else None


def callback_name(callback: Any) -> str:
    return getattr(callback, "name", None) or getattr(callback, "__name__", None) or type(callback).__name__


def owned_state(callback: Any) -> type | None:
    return getattr(callback, "owns", None)


def read_states(callback: Any) -> tuple[type, ...]:
    return tuple(getattr(callback, "reads", ()))


class CallbackRegistry:
    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self.prompt_view: PromptView | None = None  # None: smolagents renders prompts itself

    def set_prompt_view(self, view: PromptView | None) -> None:
        """What the agents render their prompts through (memory pruning hands itself over)."""
        self.prompt_view = view

    def register(
        self, step_type: type[MemoryStep], callback: StepCallback, agents: Iterable[str] | None = None,
        after: "Iterable[str] | _All" = (),
    ) -> None:
        """Run `callback` after every step of `step_type` (for the named agents only, if given),
        after the callbacks named in `after` (or ALL), which must be registered for `step_type`
        already; what it owns and reads is checked against that order (see the module's doc)."""
        if step_type not in STEP_TYPES:
            raise ValueError(f"step_type must be one of {', '.join(t.__name__ for t in STEP_TYPES)}, got {step_type!r}")
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        name = callback_name(callback)
        known = {callback_name(e.callback) for e in self._entries if e.step_type is step_type}
        if isinstance(after, _All):
            declared: tuple[str, ...] = tuple(sorted(known))
        else:
            after = declared = tuple(after)
            if name in after:
                raise ValueError(f"callback {name} cannot run after itself (a cycle)")
            missing = [dep for dep in after if dep not in known]
            if missing:
                raise ValueError(
                    f"callback {name} runs after {', '.join(missing)}, not registered for {step_type.__name__}: register it first"
                )
        self._check_states(step_type, callback, declared)
        self._entries.append(_Entry(step_type, callback, frozenset(agents) if agents is not None else None, after))

    def _check_states(self, step_type: type[MemoryStep], callback: Any, declared: tuple[str, ...]) -> None:
        name, owns, step = callback_name(callback), owned_state(callback), step_type.__name__
        here = [e.callback for e in self._entries if e.step_type is step_type]
        if owns is not None:
            owner = self.owner_of(owns)
            if owner is not None and owner is not callback:
                raise ValueError(f"{owns.__name__} is owned by callback {callback_name(owner)} already: a state has one owner")
            for reader in here:
                if owns in read_states(reader):
                    raise ValueError(
                        f"callback {callback_name(reader)} reads {owns.__name__} and is registered for {step} before "
                        f"its owner {name}: register {name} first"
                    )
        for kind in read_states(callback):
            owner = self.owner_of(kind)
            if owner is not None and owner is not callback and any(cb is owner for cb in here) and callback_name(owner) not in declared:
                raise ValueError(
                    f"callback {name} reads {kind.__name__} of {callback_name(owner)}, which runs on {step} too: "
                    f"declare after={callback_name(owner)!r}"
                )

    def owner_of(self, kind: type) -> Any:
        """The registered callback owning state `kind` (None: none is registered)."""
        return next((e.callback for e in self._entries if owned_state(e.callback) is kind), None)

    def get_callbacks(self, step_type: type[MemoryStep], agent_name: str | None = None) -> list[StepCallback]:
        return [
            e.callback
            for e in self._entries
            if e.step_type is step_type and (e.agents is None or agent_name is None or agent_name in e.agents)
        ]

    def get_registry(self, agent_name: str) -> dict[type[MemoryStep], list[Callable[..., None]]]:
        """The `step_callbacks` argument for the agent called `agent_name`."""
        registry: dict[type[MemoryStep], list[Callable[..., None]]] = {}
        for step_type in STEP_TYPES:
            wrapped = [guarded(cb, step_type) for cb in self.get_callbacks(step_type, agent_name)]
            if wrapped:
                registry[step_type] = wrapped
        return registry

    def merged(self, other: "CallbackRegistry") -> "CallbackRegistry":
        """A registry running this one's callbacks, then `other`'s (extra callbacks a caller adds)."""
        combined = CallbackRegistry()
        for entry in [*self._entries, *other._entries]:  # each declared order checked again
            combined.register(entry.step_type, entry.callback, entry.agents, entry.after)
        combined.prompt_view = self.prompt_view if self.prompt_view is not None else other.prompt_view
        return combined

    def entries(self) -> list[_Entry]:
        """The registrations in order (step type, callback, agents, after: names or ALL)."""
        return list(self._entries)


def guarded(callback: StepCallback, step_type: type[MemoryStep]) -> Callable[..., None]:
    name = callback_name(callback)

    # Two parameters on purpose: smolagents passes `agent=` only to callbacks taking more than one.
    def run_callback(step: Any, agent: Any = None) -> None:
        ctx = context_of(agent)
        if ctx is None:
            log.debug("callback %s skipped: agent %r has no open run context", name, getattr(agent, "name", agent))
            return
        try:
            callback(step, agent, ctx)
        except CallCancelled:  # the run stops at its step boundary: nothing failed
            log.info("callback %s stopped on %s of %s: the run was cancelled", name, step_type.__name__, ctx.agent_name)
        except Exception as exc:
            log.exception("callback %s failed on %s of %s; the run goes on", name, step_type.__name__, ctx.agent_name)
            ctx.record("callback_error", getattr(agent, "step_number", 0), callback=name, error=f"{type(exc).__name__}: {exc}")

    run_callback.__name__ = f"guarded_{name}"
    return run_callback
