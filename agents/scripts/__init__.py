"""The scripted policies: per role, which tool to call next, with which arguments, and how to
compose plans and final answers — all from the transcript the model was sent.

A script is an ordered list of `Move`s (a tool and how to derive its arguments from the task and
the observations so far). The policy takes the first move not yet made; when none is left it
answers. Nothing here is canned output: every plan, argument and answer is built from the task
text and the observations in the prompt, so what a run reports is what its tools returned.

Each role's script lives in its own module (perception, reasoning, metacognition, heartbeat,
manager); the machinery they share is in `moves`. This package exports what the scripted model
and the tests use.
"""

from __future__ import annotations

from agents.base import BUDGET_SPENT
from agents.scripts.heartbeat import HEARTBEAT, step_budget
from agents.scripts.manager import MANAGER, PHASES, decision
from agents.scripts.metacognition import METACOGNITION
from agents.scripts.moves import QUERY_CHARS, Answer, Args, Call, Move, Script, as_text, final_code, report
from agents.scripts.perception import PERCEPTION
from agents.scripts.reasoning import REASONING

__all__ = [
    "BUDGET_SPENT",
    "HEARTBEAT",
    "MANAGER",
    "METACOGNITION",
    "PERCEPTION",
    "PHASES",
    "QUERY_CHARS",
    "REASONING",
    "SCRIPTS",
    "Answer",
    "Args",
    "Call",
    "Move",
    "Script",
    "as_text",
    "decision",
    "final_code",
    "report",
    "step_budget",
]

SCRIPTS: dict[str, Script] = {s.role: s for s in (PERCEPTION, REASONING, METACOGNITION, HEARTBEAT, MANAGER)}
