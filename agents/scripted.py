"""The scripted model: a deterministic offline policy behind the real smolagents machinery.

It is a genuine smolagents `Model`: the agent loop, the prompts, the code executor, the
callbacks and the stores all run exactly as with an LLM; only the text generation is replaced by
the role's script (agents/scripts/, one module per role), which reads the prompt it is sent and
answers with
  - a plan, on planning calls (smolagents asks with the stop sequence `<end_plan>`),
  - a tool call, when tools are offered (ToolCallingAgent),
  - a code action, when stop sequences but no tools are given (CodeAgent),
  - a plain answer otherwise (smolagents' "max steps reached" final-answer call).
Every call carries `TokenUsage` counted with the o200k_base BPE tokenizer. Results label it
"scripted": its output is a policy's, never an LLM's reasoning.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from smolagents.models import ChatMessage, ChatMessageToolCall, ChatMessageToolCallFunction, MessageRole, Model
from smolagents.monitoring import TokenUsage

from agents.scripts import SCRIPTS, Answer, Script, as_text, final_code
from agents.transcript import Transcript
from callbacks.tokens import count_tokens, render_messages

LABEL = "scripted"
PLAN_STOP = "<end_plan>"


@dataclass
class ReceivedCall:
    """What one call received and returned (kept so tests can inspect the prompts)."""

    kind: str  # plan | tool_call | code | answer
    prompt: str  # the messages and tool schemas as one text: what the tokens were counted on
    output: str
    usage: TokenUsage
    messages: list[Any] = field(default_factory=list, repr=False)  # the messages as received


class ScriptedModel(Model):
    def __init__(self, role: str):
        if role not in SCRIPTS:
            raise ValueError(f"no script for role {role!r}; roles: {', '.join(SCRIPTS)}")
        super().__init__(model_id=LABEL)
        self.role = role
        self.script: Script = SCRIPTS[role]
        self.calls: list[ReceivedCall] = []
        self._lock = threading.Lock()

    def generate(
        self,
        messages: list[ChatMessage | dict],
        stop_sequences: list[str] | None = None,
        response_format: dict[str, str] | None = None,
        tools_to_call_from: list[Any] | None = None,
        **kwargs: Any,
    ) -> ChatMessage:
        t = Transcript.from_messages(messages)
        t.tool_calling = bool(tools_to_call_from)
        available = {tool.name for tool in tools_to_call_from} if tools_to_call_from else None
        tool_calls = None
        if stop_sequences and PLAN_STOP in stop_sequences:
            kind, content = "plan", self.script.plan(t, available) + "\n" + PLAN_STOP
        elif tools_to_call_from:
            kind, content, tool_calls = "tool_call", *self._tool_call(t, available)
        elif stop_sequences:
            kind, content = "code", self._code(t)
        else:
            kind, content = "answer", as_text(self.script.answer(t))
        content = _cut_at_stop(content, stop_sequences)
        prompt = render_messages(messages, tools_to_call_from)
        completion = content + (json.dumps([_call_dict(c) for c in tool_calls]) if tool_calls else "")
        usage = TokenUsage(input_tokens=count_tokens(prompt), output_tokens=count_tokens(completion))
        with self._lock:
            self.calls.append(ReceivedCall(kind, prompt, completion, usage, list(messages)))
        return ChatMessage(role=MessageRole.ASSISTANT, content=content, tool_calls=tool_calls, token_usage=usage)

    def _tool_call(self, t: Transcript, available: set[str] | None) -> tuple[str, list[ChatMessageToolCall]]:
        move = self.script.next(t, available)
        if isinstance(move, Answer):
            name, arguments, thought = "final_answer", {"answer": as_text(move.value)}, "I have what I need; answering."
        else:
            name, arguments, thought = move.tool, move.arguments, move.purpose
        call = ChatMessageToolCall(
            function=ChatMessageToolCallFunction(name=name, arguments=arguments),
            id=f"call_{self.role}_{len(t.exchanges) + 1}",
            type="function",
        )
        return f"Thought: {thought}", [call]

    def _code(self, t: Transcript) -> str:
        move = self.script.next(t)
        if isinstance(move, Answer):
            return f"Thought: All three phases have reported; composing the decision.\n<code>\n{final_code(move.value)}\n</code>"
        return f"Thought: {move.purpose}\n<code>\n{move.arguments}\n</code>"


def _call_dict(call: ChatMessageToolCall) -> dict[str, Any]:
    return {"id": call.id, "name": call.function.name, "arguments": call.function.arguments}


def _cut_at_stop(text: str, stop_sequences: list[str] | None) -> str:
    # A real provider stops before the stop sequence; smolagents re-appends what it needs.
    for stop in stop_sequences or []:
        if stop and stop in text:
            text = text.split(stop, 1)[0]
    return text
