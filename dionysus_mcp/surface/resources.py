"""MCP resources over the memory: `basins://` (a listed overview of every basin), `basin://{name}`
(one basin with its links and attached memories) and `memory://{memory_id}`. All JSON."""

from __future__ import annotations

import json
from collections.abc import Callable

from mcp.server import MCPServer

from dionysus_mcp.runtime import Runtime
from dionysus_mcp.surface.common import explained_resource

MEMORIES_SHOWN = 50  # the newest memories of a basin in its resource; recall finds the rest


def register(server: MCPServer, rt: Callable[[], Runtime]) -> None:
    @server.resource("basins://", name="basins", title="Basins overview", mime_type="application/json",
                     description="Every basin with its activation now, keywords and how many memories it holds.")
    @explained_resource
    async def basins_overview() -> str:
        runtime = rt()
        counts = await runtime.store.memories.counts_by_basin()
        views = await runtime.basins.current()
        return json.dumps({"basins": [
            {"name": v.name, "uri": f"basin://{v.name}", "activation": v.activation, "description": v.description,
             "keywords": v.keywords, "memories": counts.get(v.id, 0)}
            for v in views
        ]}, indent=2)

    @server.resource("basin://{name}", name="basin", title="A basin", mime_type="application/json",
                     description="One basin: its activation now, links to other basins and its newest memories.")
    @explained_resource
    async def basin_resource(name: str) -> str:
        runtime = rt()
        basin = await runtime.basins.resolve(name)
        names = {b.id: b.name for b in await runtime.store.basins.list()}
        links = [
            {"source": names.get(link.source_id, link.source_id), "target": names.get(link.target_id, link.target_id), "weight": link.weight}
            for link in await runtime.store.basins.links()
            if basin.id in (link.source_id, link.target_id)
        ]
        memories = [m for m in await runtime.store.memories.list() if any(b.basin_id == basin.id for b in m.basins)]
        newest = sorted(memories, key=lambda m: (m.created_at, m.id), reverse=True)[:MEMORIES_SHOWN]
        return json.dumps({
            "basin": runtime.basins.view(basin).model_dump(mode="json"),
            "links": links,
            "memory_count": len(memories),
            "memories": [{"memory_id": m.id, "uri": f"memory://{m.id}", "kind": m.kind, "content": m.content,
                          "importance": m.importance, "created_at": m.created_at.isoformat()} for m in newest],
        }, indent=2)

    @server.resource("memory://{memory_id}", name="memory", title="A memory", mime_type="application/json",
                     description="One memory with its kind, tags, importance and the basins it is attached to.")
    @explained_resource
    async def memory_resource(memory_id: str) -> str:
        runtime = rt()
        return (await runtime.memory.view(await runtime.memory.get(memory_id))).model_dump_json(indent=2)
