"""Paged reads for LLM clients, on a real scripted OODA cycle through the in-memory MCP client:
the summary stays under 8 KB and says how to read what it cut; the full form pages steps."""

from __future__ import annotations

import json

from mcp import Client

from agents.demo import seed_if_empty
from dionysus_mcp.runtime import open_runtime
from dionysus_mcp.surface.server import build_server
from dionysus_mcp.traces.digest import PREVIEW_CHARS

CONTEXT = "I am preparing for an exam and keep losing focus in the afternoons; notifications make it worse."


def size(result) -> tuple[int, int]:
    text = sum(len(getattr(c, "text", "").encode()) for c in result.content)
    return len(json.dumps(result.structured_content).encode()), text


async def test_summary_and_pages_of_an_ooda_cycle(settings):
    async with open_runtime(settings) as runtime:
        await seed_if_empty(runtime)
    async with Client(build_server(settings=settings)) as client:
        trace_id = (await client.call_tool("run_ooda_cycle", {"context": CONTEXT})).structured_content["trace_id"]
        full_result = await client.call_tool("get_trace", {"trace_id": trace_id, "detail": "full"})
        full = full_result.structured_content
        summary_result = await client.call_tool("get_trace", {"trace_id": trace_id})
        summary = summary_result.structured_content

        assert max(size(summary_result)) < 8 * 1024 < min(size(full_result))
        assert summary["detail"] == "summary" and summary["status"] == full["status"] == "success"
        assert [p["agent_name"] for p in summary["phases"]] == ["perception", "reasoning", "metacognition"]
        assert all(p["result"] and len(p["steps"]) == s["step_count"] for p, s in zip(summary["phases"], full["sub_runs"]))
        assert summary["total_tokens"] == full["total_tokens"] and summary["step_count"] == full["step_count"]
        assert [(s["step_number"], s["step_type"]) for s in summary["steps"]] == [
            (s["step_number"], s["step_type"]) for s in full["steps"]]
        # A long observation is cut to a preview that gives its length and where to read it.
        long = [(i, s["observations"]) for i, s in enumerate(full["steps"])
                if s["step_type"] == "action" and len(s["observations"] or "") > PREVIEW_CHARS]
        assert long, "an OODA cycle's manager sees long reports"
        index, observed = long[0]
        preview = summary["steps"][index]["preview"]
        assert preview.endswith(f"[{len(observed)} chars]") and len(preview) < len(observed)
        assert f"get_trace('{trace_id}', detail='full', steps_from=" in summary["read_more"]
        assert {b["basin_name"] for b in summary["activated_basins"]} >= {"learning"}

        page = (await client.call_tool("get_trace", {"trace_id": trace_id, "detail": "full", "steps_from": 2, "steps_limit": 3})).structured_content
        assert page["steps"] == full["steps"][2:5] and page["sub_runs"] == []
        assert (page["steps_from"], page["steps_total"], page["next_steps_from"]) == (2, len(full["steps"]), 5)
        last = (await client.call_tool("get_trace", {"trace_id": trace_id, "detail": "full", "steps_from": 5})).structured_content
        assert last["steps"] == full["steps"][5:] and last["next_steps_from"] is None

        mixed = await client.call_tool("get_trace", {"trace_id": trace_id, "steps_limit": 2})
        assert mixed.is_error and "detail='full'" in mixed.content[0].text


async def test_diff_two_cycles(settings):
    async with open_runtime(settings) as runtime:
        await seed_if_empty(runtime)
    async with Client(build_server(settings=settings)) as client:
        a = (await client.call_tool("run_ooda_cycle", {"context": CONTEXT})).structured_content["trace_id"]
        b = (await client.call_tool("run_ooda_cycle", {"context": "Deadline moved up; the team is tired.", "max_steps": 2})).structured_content["trace_id"]
        full = {t: (await client.call_tool("get_trace", {"trace_id": t, "detail": "full"})).structured_content for t in (a, b)}
        diff = (await client.call_tool("diff_traces", {"a": a, "b": b})).structured_content
        same = (await client.call_tool("diff_traces", {"a": a, "b": a})).structured_content

    assert (diff["a"]["id"], diff["b"]["id"]) == (a, b)
    assert diff["tokens_delta"]["total_tokens"] == full[b]["total_tokens"]["total_tokens"] - full[a]["total_tokens"]["total_tokens"]
    assert diff["differing_steps"] == sum(r["change"] != "same" for r in diff["steps"]) > 0
    # Every step of both runs appears once, aligned by agent, type and number.
    def keys(run, out):
        out += [(run["agent_name"], s["step_type"], s["step_number"]) for s in run["steps"]]
        for sub in run["sub_runs"]:
            keys(sub, out)
        return out
    rows = [(r["agent_name"], r["step_type"], r["step_number"]) for r in diff["steps"]]
    assert set(rows) == set(keys(full[a], [])) | set(keys(full[b], []))
    # With only 2 manager steps, B stops before metacognition: those steps are A's only.
    assert {r["change"] for r in diff["steps"] if r["agent_name"] == "metacognition"} == {"only_a"}
    assert same["differing_steps"] == 0 and same["tokens_delta"]["total_tokens"] == 0 and not same["outcome_changed"]
