"""Compact prompt templates for our agents, in place of smolagents' defaults.

smolagents' default system prompts (toolcalling_agent.yaml, code_agent.yaml: over a thousand
o200k tokens each, docs/benchmarks.md) teach a generic model the action format with
several worked examples about notional tools (image generators, web search, the pope's age).
Every model call pays for them again. Ours state the same contract in a few lines plus ONE short
worked example per agent type — real models follow the format far better with one, and the
`Action: {...}` text form is what models without native tool calling rely on (the scripted
policy never reads the system prompt, so only a real model notices); what the example costs is
in docs/benchmarks.md, "Figures behind the code". They are:
  - ToolCallingAgent: one tool call per step, observations come back, finish with
    `final_answer`. The tools are not listed in the system prompt: a tool-calling request sends
    their JSON schemas with every call (smolagents passes `tools_to_call_from`), so listing them
    again would pay for them twice. Planning calls are plain chat calls, so the planning
    templates name the tools (one line each).
  - CodeAgent: Thought + one code block, print() to observe, variables persist, the tools and
    team members as Python signatures, the authorized imports, `final_answer(...)` to finish.
Both explain the "[PRUNED]" marker memory pruning leaves on old observations and plans.

Markers other code relies on are kept verbatim: "Here is your task:" / "the following task:"
before the fenced task (agents/transcript.py finds the task of a planning call there), the
managed-agent task between "---" fences and its three "### n. Task outcome" headings (a manager
reads sub-agent reports by them), "Here is the final answer from your managed agent", and
`<end_plan>`.
"""

from __future__ import annotations

import copy
from typing import Any

_PRUNED_NOTE = (
    "Old observations and plans may appear as '[PRUNED] …' summaries keeping their headline facts; "
    "do not repeat a call only to see one again."
)

_TEAM_TOOLCALLING = """\
{%- if managed_agents and managed_agents.values() | list %}
Team members you can call like tools, with a detailed 'task' argument:
{%- for agent in managed_agents.values() %}
- {{ agent.name }}: {{ agent.description }}
{%- endfor %}
{%- endif %}"""

_TOOL_LINES = """\
{%- for tool in tools.values() %}
- {{ tool.name }}({{ tool.inputs.keys() | join(', ') }}): {{ tool.description }}
{%- endfor %}"""

_PLANNING = {
    "initial_plan": """\
Survey the facts and plan how to solve the task below with the tools.
Write:
## 1. Facts survey
### 1.1. Facts given in the task
### 1.2. Facts to look up
### 1.3. Facts to derive
## 2. Plan
A numbered, high-level plan (no individual tool calls), then the tag '<end_plan>'.
Tools:
""" + _TOOL_LINES + """
""" + _TEAM_TOOLCALLING + """
---
Here is your task:
```
{{task}}
```""",
    "update_plan_pre_messages": """\
You are updating the plan for the following task:
```
{{task}}
```
The history so far follows.""",
    "update_plan_post_messages": """\
Update the facts survey (### 1.1. Facts given in the task, ### 1.2. Facts that we have learned, \
### 1.3. Facts still to look up) and write the plan for the rest (## 2. Plan), within the \
{{remaining_steps}} steps left. End with '<end_plan>'.
Tools:
""" + _TOOL_LINES + """
""" + _TEAM_TOOLCALLING,
}

_MANAGED_AGENT = {
    "task": """\
You are '{{name}}', a member of a team. Your manager's task:
---
Task:
{{task}}
---
Answer with final_answer, in three parts:
### 1. Task outcome (short version):
### 2. Task outcome (extremely detailed version):
### 3. Additional context (if relevant):
Report what you found even if you could not finish: your manager acts on it.""",
    "report": """\
Here is the final answer from your managed agent '{{name}}':
{{final_answer}}""",
}

_FINAL_ANSWER = {
    "pre_messages": "An agent ran out of steps before answering. Its memory follows; answer in its place.",
    "post_messages": """\
Answer this task from the memory above:
{{task}}""",
}

# One worked example per agent type: real models follow the format far better with one, and
# models without native tool calling need the text form. `lookup` is notional on purpose: the
# example must not name a tool the agent may not have.
_TOOL_EXAMPLE = """\
Example ('lookup' stands for one of your tools). If you cannot make native tool calls, write each \
call as one line of JSON after 'Action:', exactly like this:
Action: {"name": "lookup", "arguments": {"query": "focus"}}
Observation: 2 memories mention focus: ...
Action: {"name": "final_answer", "arguments": {"answer": "Two memories relate to focus: ..."}}"""

_CODE_EXAMPLE = """\
Example ('helper' stands for a team member or tool):
Thought: I ask for the facts first.
{{code_block_opening_tag}}
report = helper(task="Find what is known about focus. Context: ...")
print(report)
{{code_block_closing_tag}}
Observation: ...the report...
Thought: The report answers the task.
{{code_block_opening_tag}}
final_answer({"decision": "...", "confidence": 0.7})
{{code_block_closing_tag}}"""

TOOL_CALLING: dict[str, Any] = {
    "system_prompt": """\
Solve the task by calling tools, one call per step; each result comes back as an observation. \
Pass real values as arguments, not variable names, and do not repeat a call with the same \
arguments. Finish by calling final_answer with your answer as soon as you can give it.
""" + _TOOL_EXAMPLE + """
""" + _PRUNED_NOTE + """
""" + _TEAM_TOOLCALLING + """
{%- if custom_instructions %}
{{custom_instructions}}
{%- endif %}""",
    "planning": _PLANNING,
    "managed_agent": _MANAGED_AGENT,
    "final_answer": _FINAL_ANSWER,
}

_CODE_TOOLS = """\
{{code_block_opening_tag}}
{%- for tool in tools.values() %}
{{ tool.to_code_prompt() }}
{% endfor %}
{{code_block_closing_tag}}
{%- if managed_agents and managed_agents.values() | list %}
Team members, called like functions with a detailed task; each returns its report as a string:
{{code_block_opening_tag}}
{%- for agent in managed_agents.values() %}
def {{ agent.name }}(task: str) -> str:
    \"\"\"{{ agent.description }}\"\"\"
{% endfor %}
{{code_block_closing_tag}}
{%- endif %}"""

_CODE_PLAN_TOOLS = """\
{%- for tool in tools.values() %}
- {{ tool.name }}({{ tool.inputs.keys() | join(', ') }}): {{ tool.description }}
{%- endfor %}
{%- if managed_agents and managed_agents.values() | list %}
Team members (functions taking task: str, returning a report):
{%- for agent in managed_agents.values() %}
- {{ agent.name }}: {{ agent.description }}
{%- endfor %}
{%- endif %}"""

CODE: dict[str, Any] = {
    "system_prompt": """\
You solve tasks by writing Python. Each step: a line 'Thought: ...' with your reasoning, then one \
code block opened with '{{code_block_opening_tag}}' and closed with '{{code_block_closing_tag}}'. \
What the code prints comes back as the observation; variables persist between steps. \
Use only variables you defined, pass tool arguments by keyword, never name a variable after a tool, \
and import nothing: the functions below are all you have. Finish by calling final_answer(answer) in a code block.
""" + _CODE_EXAMPLE + """
""" + _PRUNED_NOTE + """
Tools, as Python functions:
""" + _CODE_TOOLS + """
{%- if custom_instructions %}
{{custom_instructions}}
{%- endif %}""",
    "planning": {
        **_PLANNING,
        "initial_plan": _PLANNING["initial_plan"].replace(_TOOL_LINES + "\n" + _TEAM_TOOLCALLING, _CODE_PLAN_TOOLS),
        "update_plan_post_messages": _PLANNING["update_plan_post_messages"].replace(_TOOL_LINES + "\n" + _TEAM_TOOLCALLING, _CODE_PLAN_TOOLS),
    },
    "managed_agent": _MANAGED_AGENT,
    "final_answer": _FINAL_ANSWER,
}


def tool_calling_templates() -> dict[str, Any]:
    """A fresh copy for one agent (smolagents keeps a reference)."""
    return copy.deepcopy(TOOL_CALLING)


def code_templates() -> dict[str, Any]:
    return copy.deepcopy(CODE)
