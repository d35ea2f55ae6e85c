"""The `dionysus-mcp` command line.

    dionysus-mcp                  run the MCP server on stdio (what MCP clients spawn)
    dionysus-mcp serve            the same; --transport http --port N for streamable HTTP + REST
    dionysus-mcp demo             one OODA cycle and one heartbeat, offline, on the embedded store
    dionysus-mcp schema apply     apply the store schema (idempotent)
    dionysus-mcp traces list|show ID|replay ID|usage|flush

Logs go to stderr: on stdio, stdout belongs to the MCP protocol.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from dionysus_mcp.config import ConfigError, Settings

ENV_HELP = """\
environment:
  DIONYSUS_DB_PATH      SQLite file of the embedded store (default: user data dir)
  NEO4J_URI             use Neo4j at this bolt:// or neo4j:// URI instead of SQLite
  NEO4J_USERNAME        Neo4j user (default neo4j)
  NEO4J_PASSWORD        Neo4j password
  NEO4J_DATABASE        Neo4j database (default neo4j)
  DIONYSUS_MODEL        scripted (default, offline) | openai:<model> | litellm:<provider/model>
  DIONYSUS_LOG_LEVEL    DEBUG, INFO, WARNING (default), ERROR
  AGENT_MEMORY_WINDOW   agent steps whose observations are never pruned (default 3)
  DIONYSUS_BASIN_HALF_LIFE  seconds for a basin's activation to halve (default 3600)
  DIONYSUS_OUTBOX_PATH  queue of trace writes made while the store was unreachable
  DIONYSUS_HTTP_TOKEN   bearer token, required to serve HTTP on a non-loopback address
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dionysus-mcp",
        description="An MCP server giving MCP clients a cognitive layer: attractor-basin memory, "
        "IWMT coherence and a smolagents agent team whose runs are persisted as traces.",
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the MCP server (default: stdio)")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default loopback)")
    serve.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")

    sub.add_parser("demo", help="run one OODA cycle and one heartbeat offline and print what happened")

    schema = sub.add_parser("schema", help="manage the store schema")
    schema_sub = schema.add_subparsers(dest="schema_command", metavar="ACTION", required=True)
    schema_sub.add_parser("apply", help="apply the schema to the configured store (idempotent)")

    traces = sub.add_parser("traces", help="list, open and replay persisted agent runs")
    traces_sub = traces.add_subparsers(dest="traces_command", metavar="ACTION", required=True)
    listing = traces_sub.add_parser("list", help="runs, newest first")
    listing.add_argument("--agent", help="only this agent (e.g. ConsciousnessManager, perception)")
    listing.add_argument("--status", choices=["running", "success", "max_steps", "error", "cancelled"])
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--cursor", help="next_cursor printed by the previous page")
    listing.add_argument("--all", action="store_true", help="include delegated sub-runs")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = traces_sub.add_parser("show", help="one run as JSON: steps, sub-runs, basins, tokens")
    show.add_argument("trace_id")
    replay = traces_sub.add_parser("replay", help="one run as a readable markdown narrative")
    replay.add_argument("trace_id")
    usage = traces_sub.add_parser("usage", help="token totals per agent and model")
    usage.add_argument("--agent")
    traces_sub.add_parser("flush", help="deliver trace writes queued while the store was unreachable")
    return parser


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"dionysus-mcp: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    command = args.command or "serve"
    try:
        if command == "serve":
            return _serve(settings, getattr(args, "transport", "stdio"), getattr(args, "host", "127.0.0.1"), getattr(args, "port", 8765))
        if command == "schema":
            return _run(_schema_apply(settings))
        if command == "demo":
            return _run(_demo(settings))
        if command == "traces":
            return _run(_traces(settings, args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `dionysus-mcp traces replay ID | head`: the reader left; not an error worth a trace.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # the last line of defence: one readable line, no traceback
        from dionysus_mcp.errors import DionysusError
        from dionysus_mcp.store.base import StoreError

        # Task groups wrap what failed inside them; an error meant for the user stays one line.
        while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        if isinstance(exc, (DionysusError, StoreError, ConfigError)):
            print(f"dionysus-mcp: {one_line(exc)}", file=sys.stderr)
            return 1
        raise
    return 2


def one_line(exc: BaseException) -> str:
    """A user-facing error as exactly one line: driver messages (the Neo4j driver's "Couldn't
    connect ..." among them) carry newlines, and a second line reads as a second error."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _run(coro) -> int:
    import anyio

    return anyio.run(lambda: coro)


def _serve(settings: Settings, transport: str, host: str, port: int) -> int:
    from dionysus_mcp.surface.server import build_server

    if transport == "http":
        from dionysus_mcp.surface.http import serve_http

        return serve_http(settings, host, port)

    async def stdio() -> int:
        # Open the store before speaking MCP, so an unreachable Neo4j is one clear line on
        # stderr at start-up rather than a failure inside the protocol session.
        from contextlib import asynccontextmanager

        from dionysus_mcp.runtime import open_runtime

        async with open_runtime(settings) as runtime:

            @asynccontextmanager
            async def shared():
                yield runtime

            await build_server(runtime_factory=shared, settings=settings).run_stdio_async()
        return 0

    return _run(stdio())


async def _schema_apply(settings: Settings) -> int:
    from dionysus_mcp.runtime import build_store

    store = build_store(settings)
    await store.open()
    try:
        applied = await store.apply_schema()
        print(f"schema applied to {store.backend} at {await store.describe()}: {len(applied)} statements")
    finally:
        await store.close()
    return 0


async def _demo(settings: Settings) -> int:
    from agents.demo import run_demo
    from dionysus_mcp.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        await run_demo(runtime, write=print)
    return 0


async def _traces(settings: Settings, args: argparse.Namespace) -> int:
    from dionysus_mcp.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        traces = runtime.traces
        action = args.traces_command
        if action == "list":
            page = await traces.list_traces(
                agent_name=args.agent, status=args.status, limit=args.limit, cursor=args.cursor, roots_only=not args.all
            )
            if args.json:
                print(page.model_dump_json(indent=2))
                return 0
            if not page.traces:
                print("no runs stored yet: try `dionysus-mcp demo`")
            for t in page.traces:
                tokens = t.tokens.input_tokens + t.tokens.output_tokens
                print(f"{t.id}  {t.started_at:%Y-%m-%d %H:%M:%S}  {t.agent_name:<22} {t.status:<9} "
                      f"{t.step_count:>3} steps {tokens:>7} tokens  {t.model}")
            if page.next_cursor:
                print(f"more: dionysus-mcp traces list --cursor {page.next_cursor}")
        elif action == "show":
            print((await traces.get_trace(args.trace_id)).model_dump_json(indent=2))
        elif action == "replay":
            print(await traces.replay(args.trace_id))
        elif action == "usage":
            print((await traces.token_usage(args.agent)).model_dump_json(indent=2))
        elif action == "flush":
            result = await traces.flush()
            aside = f"; {result['set_aside']} refused by the store, set aside in {runtime.outbox.path}" if result["set_aside"] else ""
            print(f"delivered {result['delivered']} queued trace writes; {result['pending']} still pending{aside}")
            return 0 if result["pending"] == 0 else 1
    return 0
