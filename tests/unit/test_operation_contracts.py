"""One contract per operation: the service's input model is what the MCP tool publishes, what the
agents' smolagents tool takes, what the README's tool table lists, and what the service's own
defaults and limits are (dionysus_mcp/inputs.py)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from agents import inputs as agent_inputs
from agents.tools import TOOLS, ToolFailure
from dionysus_mcp.cognition import inputs as cognition_inputs
from dionysus_mcp.config import Settings
from dionysus_mcp.inputs import Operation
from dionysus_mcp.surface.server import build_server
from dionysus_mcp.traces import inputs as trace_inputs

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = {
    cls.tool: cls
    for module in (cognition_inputs, trace_inputs, agent_inputs)
    for cls in vars(module).values()
    if isinstance(cls, type) and issubclass(cls, Operation) and cls is not Operation and cls.__module__ == module.__name__
}
# The service method behind each operation (runtime attribute, method name).
SERVICES = {
    "activate_basin": ("basins", "activate_basin"), "upsert_basin": ("basins", "upsert_basin"),
    "link_basins": ("basins", "link_basins"), "list_basins": ("basins", "list_basins"),
    "delete_basin": ("basins", "delete_basin"), "remember": ("memory", "remember"),
    "update_memory": ("memory", "update_memory"), "forget_memory": ("memory", "forget_memory"),
    "semantic_recall": ("memory", "semantic_recall"), "mosaeic_capture": ("mosaeic", "capture"),
    "add_wisdom": ("wisdom", "add_wisdom"), "query_wisdom": ("wisdom", "query_wisdom"),
    "delete_wisdom": ("wisdom", "delete_wisdom"), "list_traces": ("traces", "list_traces"),
    "get_trace": ("traces", "read_trace"), "get_token_usage": ("traces", "token_usage"),
    "delete_traces": ("retention", "delete_traces"),
}


@pytest.fixture(scope="module")
def mcp_tools():
    import anyio

    server = build_server(settings=Settings.from_env({"DIONYSUS_DB_PATH": "/nonexistent/never-opened.db"}))
    return {t.name: t for t in anyio.run(server.list_tools)}


def test_every_mcp_tool_is_an_operation_and_publishes_its_fields(mcp_tools):
    assert set(mcp_tools) == set(OPERATIONS)
    for name, tool in mcp_tools.items():
        model = OPERATIONS[name]
        schema = model.model_json_schema()
        assert tool.title == model.title
        assert tool.description == " ".join((model.__doc__ or "").split())
        published = tool.input_schema["properties"]
        assert list(published) == list(model.model_fields), name
        assert sorted(tool.input_schema.get("required", [])) == sorted(schema.get("required", [])), name
        for field, prop in schema["properties"].items():
            assert published[field] == prop, f"{name}.{field}"


def test_the_agents_tools_take_their_inputs_from_the_same_operations():
    for name, tool in TOOLS.items():
        model = OPERATIONS[name]
        assert list(tool.inputs) == list(model.model_fields)
        for field, info in model.model_fields.items():
            assert tool.inputs[field].get("nullable", False) is (not info.is_required()), f"{name}.{field}"
    # The reason this contract exists: the agents' remember had no `basins`.
    assert TOOLS["remember"].inputs["basins"] == {
        "type": "array", "items": {"type": "string"}, "nullable": True,
        "description": "Basins to attach to; by default those the content is about (keywords or meaning).",
    }
    assert "(1 to 100; default 5)" in TOOLS["semantic_recall"].inputs["k"]["description"]
    assert "(1 to 1000; default 10)" in TOOLS["list_basins"].inputs["limit"]["description"]  # the agents' own default


async def test_the_agents_remember_attaches_to_the_basins_named(runtime):
    await runtime.basins.upsert_basin("gardening")
    await runtime.basins.upsert_basin("finance")
    tool = TOOLS["remember"](runtime)
    observation = await _in_thread(tool, content="Tomatoes need staking in June", basins=["finance"])
    assert observation.endswith("in basins: finance.")


async def test_the_agents_tools_refuse_what_mcp_refuses_one_line_per_field(runtime):
    tool = TOOLS["activate_basin"](runtime)
    with pytest.raises(ToolFailure) as refused:
        await _in_thread(tool, basin="", strength=7)
    assert str(refused.value) == "activate_basin failed: basin: must not be empty\nstrength: must be at most 1, got 7"
    with pytest.raises(ToolFailure, match=r"^semantic_recall failed: k: must be a whole number, got true$"):
        await _in_thread(TOOLS["semantic_recall"](runtime), query="x", k=True)


async def _in_thread(tool, **kwargs):
    import anyio.to_thread

    return await anyio.to_thread.run_sync(lambda: tool(**kwargs))


def test_the_services_defaults_are_the_operations(runtime_attributes):
    for name, (attribute, method) in SERVICES.items():
        model = OPERATIONS[name]
        params = inspect.signature(getattr(runtime_attributes[attribute], method)).parameters
        for field, info in model.model_fields.items():
            assert field in params, f"{name}: the service has no parameter {field}"
            default = params[field].default
            if info.is_required():
                assert default is inspect.Parameter.empty, f"{name}.{field}"
            elif default is not inspect.Parameter.empty:
                expected = info.get_default(call_default_factory=True)
                assert default == expected or (default is None and expected == []), f"{name}.{field}"


@pytest.fixture
def runtime_attributes():
    from dionysus_mcp.cognition.basins import BasinService
    from dionysus_mcp.cognition.memory import MemoryService
    from dionysus_mcp.cognition.mosaeic import MosaeicService
    from dionysus_mcp.cognition.wisdom import WisdomService
    from dionysus_mcp.traces.retention import TraceRetention
    from dionysus_mcp.traces.service import TraceService

    return {"basins": BasinService, "memory": MemoryService, "mosaeic": MosaeicService, "wisdom": WisdomService,
            "traces": TraceService, "retention": TraceRetention}


def _readme_tools() -> dict[str, tuple[list[str], bool]]:
    section = ROOT.joinpath("README.md").read_text(encoding="utf-8").split("\n## Tools\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[list[str], bool]] = {}
    for line in section.splitlines():
        found = re.match(r"^\| `(\w+)\((.*?)\)` \|.*\| *(yes)? *\|$", line)
        if found:
            name, params, read_only = found.groups()
            assert name not in rows, f"{name} is listed twice"
            rows[name] = (re.findall(r"\w+\??", params), read_only == "yes")
    return rows


def test_the_readme_tool_table_lists_every_operation_as_its_model_says(mcp_tools):
    rows = _readme_tools()
    assert set(rows) == set(OPERATIONS)
    for name, (params, read_only) in rows.items():
        model = OPERATIONS[name]
        expected = [f if info.is_required() else f"{f}?" for f, info in model.model_fields.items()]
        assert params == expected, f"README's {name}: {params}, the model's: {expected}"
        assert read_only is bool(mcp_tools[name].annotations.read_only_hint), name


def test_limits_read_back_from_the_models():
    assert cognition_inputs.Remember.bound("content", "max_length") == 20_000
    assert cognition_inputs.Remember.item_bound("tags", "max_length") == 100
    assert cognition_inputs.ActivateBasin.span("strength") == (0.0, 1.0)
    assert trace_inputs.GetTrace.span("steps_limit") == (1, 500)
    with pytest.raises(KeyError, match="has no max_length"):
        cognition_inputs.ActivateBasin.bound("strength", "max_length")
