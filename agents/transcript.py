"""Reading a prompt back: the task, the tool calls made so far with their results, the plans.

The scripted model decides only from what it is sent, like an LLM would: this module turns the
smolagents messages into that view, and parses the observation formats of agents/tools.py.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from callbacks.rolling_digest import ERROR as DIGEST_ERROR
from callbacks.rolling_digest import MARK as DIGEST_MARK
from callbacks.rolling_digest import parse_digest
from callbacks.tokens import message_role, message_text

# The context runs until a "<Agent> reported:" section, the managed-task "---" fence, or the end.
_CONTEXT = re.compile(r"Context:(.*?)(?=^(?:[A-Z][A-Za-z ]* reported:|---)|\Z)", re.S | re.M)
_FENCED_TASK = re.compile(r"(?:Here is your task:|following task:)\s*```\n(.*?)\n```", re.S)


@dataclass
class Exchange:
    """One tool call (or, for a CodeAgent, one code action) and what came back."""

    tool: str
    arguments: Any
    observation: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.observation is not None


@dataclass
class Transcript:
    task: str
    exchanges: list[Exchange] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)
    tool_calling: bool = False  # the agent calls its team as tools (else it writes code)

    @property
    def context(self) -> str:
        return extract_context(self.task)

    @property
    def managed(self) -> bool:
        """Run by a manager, which asked for a three-part report."""
        return "Task outcome (short version)" in self.task

    def upto(self, n: int) -> "Transcript":
        return Transcript(self.task, self.exchanges[:n], self.plans, self.tool_calling)

    def last(self, tool: str) -> Exchange | None:
        for exchange in reversed(self.exchanges):
            if exchange.tool == tool and exchange.ok:
                return exchange
        return None

    def all(self, tool: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.tool == tool and e.ok]

    def latest_iwmt(self) -> str | None:
        for plan in reversed(self.plans):
            for line in reversed(plan.splitlines()):
                if line.startswith("[IWMT] Coherence:"):
                    return line.removeprefix("[IWMT] ").strip()
        return None

    @classmethod
    def from_messages(cls, messages: list[Any]) -> "Transcript":
        task = ""
        exchanges: list[Exchange] = []
        plans: list[str] = []
        pending: list[Exchange] = []
        for message in messages:
            role, text = message_role(message), message_text(message)
            if role == "user" and DIGEST_MARK in text:
                # Steps folded into the digest (callbacks/rolling_digest.py): their calls and facts.
                head, digest = text.split(DIGEST_MARK, 1)
                if head.startswith("New task:\n") and not task:
                    task = head.removeprefix("New task:\n").rstrip("\n")
                exchanges.extend(_folded_exchange(tool, args, facts) for _, tool, args, facts in parse_digest(DIGEST_MARK + digest) if tool)
            elif role == "user" and text.startswith("New task:\n") and not task:
                task = text.removeprefix("New task:\n")
            elif role == "tool-call" and text.startswith("Calling tools:"):
                pending = [Exchange(name, args) for name, args in parse_tool_calls(text)]
                exchanges.extend(pending)
            elif role == "tool-response":
                _attach_response(pending, text)
            elif role == "assistant" and ("Here are the facts I know" in text or "[IWMT]" in text):
                plans.append(text)
        if not task:
            match = _FENCED_TASK.search("\n".join(message_text(m) for m in messages))
            task = match.group(1) if match else ""
        return cls(task, exchanges, plans)


def _folded_exchange(tool: str, arguments: Any, facts: str) -> Exchange:
    if facts.startswith(DIGEST_ERROR):
        return Exchange(tool, arguments, error=facts.removeprefix(DIGEST_ERROR))
    return Exchange(tool, arguments, observation=facts)


def _attach_response(pending: list[Exchange], text: str) -> None:
    if not pending:
        return
    if text.startswith("Observation:\n"):
        body = text.removeprefix("Observation:\n")
        for exchange in pending:
            exchange.observation = body
        return
    if "Error:\n" in text:
        error = text.split("Error:\n", 1)[1].split("\nNow let's retry", 1)[0].strip()
        for exchange in pending:
            exchange.error = error


def parse_tool_calls(text: str) -> list[tuple[str, Any]]:
    body = text.removeprefix("Calling tools:").strip()
    try:
        calls = ast.literal_eval(body)
    except (ValueError, SyntaxError):
        return []
    out = []
    for call in calls if isinstance(calls, list) else []:
        function = call.get("function", {}) if isinstance(call, dict) else {}
        out.append((function.get("name", ""), function.get("arguments")))
    return out


def extract_context(task: str) -> str:
    match = _CONTEXT.search(task)
    return (match.group(1) if match else task).strip()


# --- observation formats of agents/tools.py ------------------------------------------------


@dataclass
class Hit:
    relevance: float
    text: str
    basins: list[str]
    memory_id: str | None


_HIT = re.compile(r"^\d+\. \(([\d.]+)\) (.*?)(?: \[(?:[^;\]]*); basins: ([^;\]]*); ([^\]]*)\])?$", re.M)
_WISDOM = re.compile(r"^\d+\. \(([\d.]+)\) (.*?)(?: \[[^\]]*\])?$", re.M)
_BASIN_LINE = re.compile(r"^- (.+?): activation ([\d.]+)", re.M)
_BASIN_HEAD = re.compile(r"\(most active first\): (.*)$", re.M)
_COHERENCE = re.compile(r"Coherence ([\d.]+)% \((\w+)\)")
_ACTIVATED = re.compile(r"Activated (.+?): ([\d.]+) -> ([\d.]+)")
_MEMORY_ID = re.compile(r"\b(mem-[0-9a-f]+)\b")


# Lines smolagents wraps around a code action's output or a managed agent's report.
_BOILERPLATE = ("Execution logs:", "Here is the final answer from your managed agent", "### 1. Task outcome")


def headline(observation: str | None) -> str:
    text = (observation or "").removeprefix("[PRUNED] ")  # a pruned observation keeps its headline
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if not line.startswith(_BOILERPLATE):
            return line
    return lines[0] if lines else ""


def recall_hits(observation: str | None) -> list[Hit]:
    hits = []
    for rel, text, basins, mem in _HIT.findall(observation or ""):
        names = [b.strip() for b in basins.split(",") if b.strip() and b.strip() != "none"]
        hits.append(Hit(float(rel), text.strip(), names, mem.strip() or None))
    return hits


def principles(observation: str | None) -> list[str]:
    return [text.strip() for _, text in _WISDOM.findall(observation or "")]


def basin_activations(observation: str | None) -> list[tuple[str, float]]:
    """(name, activation) most active first, from a list_basins observation (whole or pruned)."""
    lines = _BASIN_LINE.findall(observation or "")
    if lines:
        return [(name, float(level)) for name, level in lines]
    match = _BASIN_HEAD.search(observation or "")
    out = []
    for part in (match.group(1).split(", ") if match else []):
        name, _, level = part.rpartition(" ")
        try:
            out.append((name, float(level.rstrip("…"))))
        except ValueError:
            continue
    return out


def basin_keywords(observation: str | None, name: str) -> list[str]:
    for line in (observation or "").splitlines():
        if line.startswith(f"- {name}: ") and "; keywords " in line:
            words = line.split("; keywords ", 1)[1].split(";", 1)[0]
            return [w.strip() for w in words.split(",") if w.strip() and w.strip() != "none"]
    return []


def coherence(observation: str | None) -> tuple[float, str] | None:
    match = _COHERENCE.search(observation or "")
    return (float(match.group(1)) / 100.0, match.group(2)) if match else None


def activation(observation: str | None) -> tuple[str, float, float] | None:
    match = _ACTIVATED.search(observation or "")
    return (match.group(1), float(match.group(2)), float(match.group(3))) if match else None


def memory_id(observation: str | None) -> str | None:
    match = _MEMORY_ID.search(observation or "")
    return match.group(1) if match else None


def fact(text: str, key: str) -> str | None:
    """The value of a `Key: value` line in a report (the last one, if several)."""
    found = re.findall(rf"^[-*\s]*{re.escape(key)}:\s*(.+)$", text or "", re.M)
    return found[-1].strip() if found else None


def listed(value: str | None) -> list[str]:
    if not value or value.strip().lower() in {"none", "-"}:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]
