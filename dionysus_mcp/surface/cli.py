"""The `dionysus-mcp` command line.

    dionysus-mcp                  run the MCP server on stdio (what MCP clients spawn)
    dionysus-mcp serve            the same; --transport http --port N for streamable HTTP + REST
    dionysus-mcp demo             one OODA cycle and one heartbeat, offline, in a demo database
    dionysus-mcp schema apply     apply the store schema (idempotent)
    dionysus-mcp traces list|show ID|replay ID|usage|flush|delete
    dionysus-mcp export|import    move everything between stores (JSON Lines)
    dionysus-mcp memories forget ID | basins delete NAME | wisdom delete ID
    dionysus-mcp reindex          embed memories whose vectors are not from the configured model

Logs go to stderr: on stdio, stdout belongs to the MCP protocol. Every failure is one line on
stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, get_args

from dionysus_mcp.config import ConfigError, Settings
from dionysus_mcp.settings_docs import environment_help
from dionysus_mcp.surface import cli_data
from schema.models import TraceStatus

STATUSES = list(get_args(TraceStatus))
# Service messages name MCP tools; on the command line the matching command is named instead.
CLI_WORDS = {
    "list_traces": "`dionysus-mcp traces list`",
    "get_trace": "`dionysus-mcp traces show ID`",
    "upsert_basin": "an MCP client's upsert_basin tool",
}


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes are one line on stderr (argparse prints the usage block, then the error)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def port(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise argparse.ArgumentTypeError(f"{raw!r} must be a whole number from 1 to 65535")
    return int(raw)


def host(raw: str) -> str:
    try:
        ipaddress.ip_address(raw.strip("[]"))
        return raw.strip("[]")
    except ValueError:
        pass
    if len(raw) <= 253 and re.fullmatch(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*", raw):
        return raw
    raise argparse.ArgumentTypeError(f"{raw!r} is not an IP address or host name (e.g. 127.0.0.1)")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dionysus-mcp")
    except PackageNotFoundError:
        return "0.0.0"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="dionysus-mcp",
        description="An MCP server giving MCP clients a cognitive layer: attractor-basin memory, "
        "IWMT coherence and a smolagents agent team whose runs are persisted as traces.",
        epilog=environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dionysus-mcp {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the MCP server (default: stdio)")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    serve.add_argument("--host", type=host, default="127.0.0.1", help="HTTP bind address (default loopback)")
    serve.add_argument("--port", type=port, default=8765, help="HTTP port (default 8765)")

    demo = sub.add_parser("demo", help="run one OODA cycle and one heartbeat offline, in a demo database")
    demo.add_argument("--db", metavar="FILE", help="SQLite file to use (default: demo.db in the user data dir, never your store)")

    schema = sub.add_parser("schema", help="manage the store schema")
    schema_sub = schema.add_subparsers(dest="schema_command", metavar="ACTION", required=True)
    schema_sub.add_parser("apply", help="apply the schema to the configured store (idempotent)")

    sub.add_parser(
        "reindex", help="embed the memories whose vectors are missing or from another model (progress on stderr)"
    )

    traces = sub.add_parser("traces", help="list, open, replay and delete persisted agent runs")
    traces_sub = traces.add_subparsers(dest="traces_command", metavar="ACTION", required=True)
    listing = traces_sub.add_parser("list", help="runs, newest first")
    listing.add_argument("--agent", help="only this agent (e.g. ConsciousnessManager, perception)")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--cursor", help="next_cursor printed by the previous page")
    listing.add_argument("--all", action="store_true", help="include delegated sub-runs")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = traces_sub.add_parser("show", help="one run as JSON: steps, sub-runs, basins, tokens")
    show.add_argument("trace_id")
    show.add_argument("--detail", choices=["summary", "full"], default="full", help="summary: a few KB (default full)")
    show.add_argument("--steps-from", type=int, help="full only: index of the first step to print")
    show.add_argument("--steps-limit", type=int, help="full only: how many steps to print")
    replay = traces_sub.add_parser("replay", help="one run as a readable markdown narrative")
    replay.add_argument("trace_id")
    diff = traces_sub.add_parser("diff", help="compare two runs: aligned steps, what differs, token and time deltas")
    diff.add_argument("a")
    diff.add_argument("b")
    diff.add_argument("--json", action="store_true", help="print JSON")
    otel = traces_sub.add_parser("otel", help="export a run as OpenTelemetry spans to OTEL_EXPORTER_OTLP_ENDPOINT")
    otel.add_argument("trace_id")
    usage = traces_sub.add_parser("usage", help="token totals per agent and model")
    usage.add_argument("--agent")
    usage.add_argument("--since", type=cli_data.cli_datetime, metavar="DATE", help="only runs started at or after DATE")
    traces_sub.add_parser("flush", help="deliver trace writes queued while the store was unreachable")
    cli_data.add_parsers(sub, traces_sub)
    return parser


def setup_logging(settings: Settings) -> None:
    """stderr, every line masked (surface/logs.py)."""
    from dionysus_mcp.secrets import ProcessSecrets
    from dionysus_mcp.surface.logs import setup_logging as setup

    setup(settings.log_level, ProcessSecrets([settings.http_token, settings.neo4j_password]))


def cli_message(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    for tool, command in CLI_WORDS.items():
        text = re.sub(rf"\b{tool}\b", command, text)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"dionysus-mcp: configuration error: {exc}", file=sys.stderr)
        return 1
    setup_logging(settings)
    command = args.command or "serve"
    if command in ("serve", "demo"):
        # This process holds the credentials: a same-user process (the manager's code, had it
        # escaped its child's limits) may not read its environment or memory.
        from agents.sandbox.confine import make_undumpable

        make_undumpable()
        # The model is checked before anything starts: an unusable DIONYSUS_MODEL (form, provider,
        # API key, base URL) is one line and exit 1 here, not a surprise at the first agent call.
        from agents.spec import check_model

        try:
            check_model(settings.model, os.environ)
        except ConfigError as exc:
            print(f"dionysus-mcp: configuration error: {exc}", file=sys.stderr)
            return 1
    try:
        if command == "serve":
            return _serve(settings, getattr(args, "transport", "stdio"), getattr(args, "host", "127.0.0.1"), getattr(args, "port", 8765))
        if command == "schema":
            return _run(_schema_apply(settings))
        if command == "demo":
            return _run(_demo(settings, args.db))
        if command == "traces" and args.traces_command != "delete":
            return _run(_traces(settings, args))
        if command == "reindex":
            return _run(_reindex(settings))
        return _run(cli_data.run(settings, args))
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
            print(f"dionysus-mcp: {cli_message(exc)}", file=sys.stderr)
            return 1
        if isinstance(exc, OSError):  # a port taken, a folder not writable: the system's words
            print(f"dionysus-mcp: {exc.strerror or exc}", file=sys.stderr)
            return 1
        raise


def _run(coro) -> int:
    import anyio

    return anyio.run(lambda: coro)


def _serve(settings: Settings, transport: str, host: str, port: int) -> int:
    if transport == "http":
        from dionysus_mcp.surface.http.auth import check_bind

        check_bind(settings, host)  # before the server's imports: a refused start is quick
        from dionysus_mcp.surface.http import serve_http

        return serve_http(settings, host, port)
    from dionysus_mcp.surface.server import build_server

    async def stdio() -> int:
        # Open the store before speaking MCP, so an unreachable Neo4j is one clear line on
        # stderr at start-up rather than a failure inside the protocol session.
        from contextlib import asynccontextmanager

        from dionysus_mcp.runtime import freeze_startup_objects, open_runtime

        async with open_runtime(settings) as runtime:
            freeze_startup_objects()  # this process is the server: see runtime.py

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


async def _reindex(settings: Settings) -> int:
    from dionysus_mcp.cognition.reindex import reindex
    from dionysus_mcp.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        if not runtime.embedder.dim:
            print("DIONYSUS_EMBEDDER=none: recall uses words only, there is nothing to embed")
            return 0

        def progress(done: int, todo: int) -> None:
            print(f"reindex: {done}/{todo} memories embedded with {runtime.embedder.name}", file=sys.stderr, flush=True)

        result = await reindex(runtime.store.memories, runtime.embedder, progress)
    print(f"{result.embedded} of {result.total} memories embedded with {result.model} ({result.dim} dimensions)")
    return 0


def demo_path(db: str | None) -> Path:
    if db:
        return Path(db).expanduser()
    from dionysus_mcp.config import _data_dir

    return _data_dir() / "demo.db"


async def _demo(settings: Settings, db: str | None) -> int:
    from agents.demo import run_demo
    from dionysus_mcp.runtime import open_runtime

    # The demo seeds and writes: never into the user's store unless --db names it.
    path = demo_path(db)
    demo = settings.replace(neo4j_uri=None, db_path=path, outbox_path=path.with_name(path.stem + "-outbox.db"))
    print(f"Demo database: {path}\n")
    async with open_runtime(demo) as runtime, runtime.timers():
        await run_demo(runtime, write=print)
    print(f"\nThe demo's memory and runs are in {path}; look at them with\n"
          f"  DIONYSUS_DB_PATH={path} dionysus-mcp traces list")
    return 0


async def _traces(settings: Settings, args: argparse.Namespace) -> int:
    from dionysus_mcp.runtime import open_runtime

    action = args.traces_command
    # Reading commands open the store read-only: they work on a file the user may not write.
    async with open_runtime(settings, read_only=action != "flush") as runtime:
        traces = runtime.traces
        if action == "list":
            page = await traces.list_traces(
                agent_name=args.agent, status=args.status, limit=args.limit, cursor=args.cursor, roots_only=not args.all
            )
            if args.json:
                print(page.model_dump_json(indent=2))
                return 0
            if not page.traces:
                print(await _why_empty(runtime, args))
            for t in page.traces:
                tokens = t.tokens.input_tokens + t.tokens.output_tokens
                print(f"{t.id}  {t.started_at:%Y-%m-%d %H:%M:%S}  {t.agent_name:<22} {t.status:<9} "
                      f"{t.step_count:>3} steps {tokens:>7} tokens  {t.model}")
            if page.next_cursor:
                print(f"more: dionysus-mcp traces list --cursor {page.next_cursor}")
        elif action == "show":
            read = await traces.read_trace(args.trace_id, args.detail, args.steps_from, args.steps_limit)
            print(read.model_dump_json(indent=2))
        elif action == "replay":
            print(await traces.replay(args.trace_id))
        elif action == "diff":
            result = await traces.diff(args.a, args.b)
            if args.json:
                print(result.model_dump_json(indent=2))
                return 0
            print(f"A {result.a.id} {result.a.status}  ->  B {result.b.id} {result.b.status}")
            delta = result.duration_delta_s
            print(f"tokens {result.tokens_delta.total_tokens:+d}, duration {'n/a' if delta is None else f'{delta:+.2f} s'}, "
                  f"{result.differing_steps} of {len(result.steps)} steps differ")
            for row in result.steps:
                if row.change != "same":
                    print(f"  {row.change:<8} {row.agent_name:<22} {row.step_type} {row.step_number}: {row.note or ''}")
        elif action == "otel":
            spans = await traces.export_otel(args.trace_id)
            print(f"exported {spans} spans of {args.trace_id} over OTLP/HTTP")
        elif action == "usage":
            print((await traces.token_usage(args.agent, args.since)).model_dump_json(indent=2))
        elif action == "flush":
            result = await traces.flush()
            aside = f"; {result['set_aside']} refused by the store, set aside in {runtime.outbox.path}" if result["set_aside"] else ""
            print(f"delivered {result['delivered']} queued trace writes; {result['pending']} still pending{aside}")
            return 0 if result["pending"] == 0 else 1
    return 0


async def _why_empty(runtime, args: argparse.Namespace) -> str:
    """An empty listing says why: nothing stored at all, or nothing matching the filters."""
    total = await runtime.store.traces.count()
    if total == 0:
        return f"no runs stored yet in {await runtime.store.describe()}: agent runs an MCP client starts are stored here"
    filters = [f"--{name} {value}" for name, value in (("agent", args.agent), ("status", args.status)) if value]
    if args.cursor:
        return "no more runs after this cursor"
    if filters:
        return f"no runs match {' '.join(filters)} ({total} runs stored; `dionysus-mcp traces list --all` shows every one)"
    return f"no top-level runs; {total} delegated sub-runs are stored: add --all to list them"
