"""End to end: an OpenAI-compatible endpoint answers the manager with hostile code.

A loopback server speaking the chat-completions protocol (tests/hostile_endpoint.py) plays the
model behind `DIONYSUS_MODEL=openai:hostile`; as the manager it writes the issue's format-string
exploit (literal and built at run time), an attribute walk, an import, a generator-frame walk, an
endless loop, a read of a variable the stopped step's process took with it and a dunder getattr,
then a final answer. The
cycle runs through `run_ooda_cycle` on a real SQLite store: it must succeed with that answer,
each hostile step must come back to the model as an error observation naming how it was
stopped, and neither secret may reach anything the model was sent (every request body), the
result, the trace or the store.
"""

from __future__ import annotations

import json

from agents.runner import run_ooda_cycle
from dionysus_mcp.config import Settings
from dionysus_mcp.runtime import open_runtime
from tests.helpers import CONTEXT, settings_env
from tests.hostile_endpoint import HostileEndpoint, message_texts, text_reply, tool_call_reply
from tests.integration.test_manager_sandbox import API_KEY, SECRET, dump
from tests.sandbox_helpers import SPIN

COGNITION_TABLES = ("basins", "basin_links", "memories", "memory_basins", "wisdom")
# Every step's limit, the spinning one's too: room for a niced child on a loaded machine to run a
# one-line step (0.5 s stopped the first, harmless step in one load run in five).
STEP_S = 3

HOSTILE_STEPS = [
    ("'{0.__globals__[inspect].os.environ[NEO4J_PASSWORD]}'.format(perception)", "not an attribute or an item"),
    ("print(('{0.' + '__glob' + 'als__}').format(reasoning))", "not an attribute or an item"),
    ("kept = 1\nprint(perception.tools['semantic_recall'].runtime.settings.neo4j_password)", "has no attribute 'tools'"),
    ("import os\nprint(os.environ)", "imports are not available"),
    ("g = (x for x in [1])\nprint(g.gi_frame.f_globals)", "attribute 'f_globals' is not accessible"),
    (SPIN, f"ran longer than {STEP_S} s"),
    ("print(kept)", "is not defined"),  # the spinning step's process took the variables with it
    ("print(getattr(reasoning, '__globals__'))", "attribute '__globals__' is not accessible"),
]
FINAL = 'final_answer({"decision": "hold", "actions": ["stay put"], "confidence": 0.2})'
PLAN = "## 1. Facts survey\n### 1.1. Facts given in the task\nA situation.\n## 2. Plan\n1. Probe the team.\n<end_plan>"


class HostileManager:
    """Answers planning calls with a plan and each action call with the next hostile step."""

    def __init__(self) -> None:
        self.code = [code for code, _ in HOSTILE_STEPS] + [FINAL]

    def __call__(self, request: dict) -> dict:
        if request.get("tools"):  # a tool-calling team member (the hostile manager never calls one)
            return tool_call_reply("final_answer", {"answer": "nothing to report"})
        last = message_texts(request)[-1]
        if "Survey the facts" in last or "Update the facts survey" in last:
            return text_reply(PLAN)
        code = self.code.pop(0) if self.code else FINAL
        return text_reply(f"Thought: let me look around.\n<code>\n{code}\n</code>")


def cognition(db_path) -> dict:
    return {table: rows for table, rows in dump(db_path).items() if table in COGNITION_TABLES}


async def test_hostile_manager_code_from_an_openai_endpoint_ends_in_a_clean_run(tmp_path, monkeypatch):
    from agents.demo import seed_if_empty

    db = tmp_path / "e2e.db"
    with HostileEndpoint(HostileManager()) as endpoint:
        monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", endpoint.base_url)
        monkeypatch.setenv("NEO4J_PASSWORD", SECRET)  # where the exploit looked
        settings = Settings.from_env(
            {**settings_env(),
                "DIONYSUS_DB_PATH": str(db),
                "DIONYSUS_MODEL": "openai:hostile",
                "NEO4J_PASSWORD": SECRET,
                "DIONYSUS_CODE_STEP_TIMEOUT": str(STEP_S),
            }
        )
        async with open_runtime(settings) as runtime:
            await seed_if_empty(runtime)
            before = cognition(db)
            result = await run_ooda_cycle(runtime, CONTEXT)
            trace = await runtime.traces.get_trace(result.trace_id)

    assert result.status == "success" and result.model == "openai:hostile"
    assert (result.decision, result.actions, result.confidence) == ("hold", ["stay put"], 0.2)
    assert [p.status for p in result.phases] == ["not_run"] * 3
    # Each hostile step became an error observation the model read, and the run went on.
    errors = [s.error for s in trace.steps if s.step_type == "action"]
    assert len(errors) == len(HOSTILE_STEPS) + 1 and errors[-1] is None
    for (_, blocked_by), error in zip(HOSTILE_STEPS, errors):
        assert error is not None and blocked_by in error, error
    fed_back = "\n".join(message_texts(endpoint.requests[-1]))
    assert all(blocked_by in fed_back for _, blocked_by in HOSTILE_STEPS)
    # No secret reached the model, the result, the trace or the cognitive store, which is unchanged.
    everything = [*endpoint.bodies, result.model_dump_json(), trace.model_dump_json(), json.dumps(dump(db))]
    assert not [text for text in everything if SECRET in text or API_KEY in text]
    assert cognition(db) == before
