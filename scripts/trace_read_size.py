"""How many bytes an MCP client receives for one OODA cycle from get_trace, summary vs. full.

Runs one scripted OODA cycle (offline) on a temporary SQLite file through an in-memory MCP
client, then reads it back: `structured` is the JSON of structuredContent, `text` the text
content mcp sends beside it. Usage: .venv/bin/python scripts/trace_read_size.py
"""

import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcp import Client  # noqa: E402

from agents.demo import seed_if_empty  # noqa: E402
from dionysus_mcp.config import Settings  # noqa: E402
from dionysus_mcp.runtime import open_runtime  # noqa: E402
from dionysus_mcp.surface.server import build_server  # noqa: E402

CONTEXT = "I am preparing for an exam and keep losing focus in the afternoons; notifications make it worse."


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.from_env({"DIONYSUS_DB_PATH": str(Path(folder) / "size.db"), "DIONYSUS_LOG_LEVEL": "WARNING"})
        async with open_runtime(settings) as runtime:
            await seed_if_empty(runtime)

        async with Client(build_server(settings=settings)) as client:
            run = await client.call_tool("run_ooda_cycle", {"context": CONTEXT})
            trace_id = run.structured_content["trace_id"]
            for args in ({"detail": "summary"}, {"detail": "full"}, {"detail": "full", "steps_from": 0, "steps_limit": 4}):
                read = await client.call_tool("get_trace", {"trace_id": trace_id, **args})
                structured = len(json.dumps(read.structured_content).encode())
                text = sum(len(getattr(c, "text", "").encode()) for c in read.content)
                print(f"get_trace {json.dumps(args)}: structured {structured} bytes, text {text} bytes")


if __name__ == "__main__":
    asyncio.run(main())
