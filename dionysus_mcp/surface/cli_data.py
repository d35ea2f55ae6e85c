"""Command-line actions that move and remove data: export, import, and forgetting memories,
basins, principles and runs. Thin: parse, call the domain (store/transfer.py, the services),
print one line (or the export itself)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dionysus_mcp.config import Settings
from dionysus_mcp.errors import InvalidInput


def cli_datetime(raw: str) -> datetime:
    """An argparse type: ISO-8601, a zone-less time taken as UTC, between 2000 and a year ahead."""
    from dionysus_mcp.inputs import plausible_moment

    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an ISO-8601 date or time (e.g. 2026-11-24 or 2026-11-24T10:00:00Z)") from None
    try:
        return plausible_moment(value if value.tzinfo else value.replace(tzinfo=timezone.utc))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parsers(sub: Any, traces_sub: Any) -> None:
    export = sub.add_parser("export", help="write every basin, link, memory, principle, snapshot and run as JSON Lines")
    export.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    imp = sub.add_parser("import", help="add what an export holds to the configured store (idempotent)")
    imp.add_argument("file", metavar="FILE", help="a file written by `dionysus-mcp export` (- for standard input)")

    memories = sub.add_parser("memories", help="forget stored memories")
    memories_sub = memories.add_subparsers(dest="memories_command", metavar="ACTION", required=True)
    memories_sub.add_parser("forget", help="delete one memory").add_argument("memory_id")

    basins = sub.add_parser("basins", help="delete basins")
    basins_sub = basins.add_subparsers(dest="basins_command", metavar="ACTION", required=True)
    basins_sub.add_parser("delete", help="delete a basin (its memories stay, detached)").add_argument("name")

    wisdom = sub.add_parser("wisdom", help="delete stored principles")
    wisdom_sub = wisdom.add_subparsers(dest="wisdom_command", metavar="ACTION", required=True)
    wisdom_sub.add_parser("delete", help="delete one principle").add_argument("wisdom_id")

    delete = traces_sub.add_parser("delete", help="delete runs with their steps and sub-runs")
    delete.add_argument("trace_ids", nargs="*", metavar="TRACE_ID")
    delete.add_argument("--before", type=cli_datetime, metavar="DATE", help="runs started before this date")
    delete.add_argument("--agent", help="runs of this agent")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from dionysus_mcp.runtime import open_runtime

    command = args.command
    if command == "export":
        return await _export(settings, args.out)
    if command == "import":
        return await _import(settings, args.file)
    async with open_runtime(settings) as rt:
        if command == "memories":
            print((await rt.memory.forget_memory(args.memory_id)).message)
        elif command == "basins":
            print((await rt.basins.delete_basin(args.name)).message)
        elif command == "wisdom":
            print((await rt.wisdom.delete_wisdom(args.wisdom_id)).message)
        elif command == "traces":
            if not (args.trace_ids or args.before or args.agent):
                raise InvalidInput("say which runs to delete: TRACE_ID ..., --before DATE and/or --agent NAME")
            print((await rt.retention.delete_traces(args.trace_ids or None, args.before, args.agent)).message)
    return 0


async def _export(settings: Settings, out: str | None) -> int:
    from dionysus_mcp.runtime import build_store
    from dionysus_mcp.store.transfer import export_lines

    store = build_store(settings, read_only=True)
    await store.open()
    try:
        target = Path(out) if out else None
        # Written to a temporary name and renamed at the end: an export that fails half-way
        # never leaves a truncated file that looks complete.
        partial = target.with_name(target.name + ".partial") if target else None
        try:
            # Memories are personal: the file is readable by its owner only.
            handle = os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") if partial else sys.stdout
        except OSError as exc:
            raise InvalidInput(f"cannot write {out}: {exc.strerror}") from None
        lines = 0
        try:
            async for line in export_lines(store):
                handle.write(line + "\n")
                lines += 1
        finally:
            if partial:
                handle.close()
        if partial and target:
            partial.replace(target)
            print(f"exported {lines - 1} records from {store.backend} at {await store.describe()} to {target}", file=sys.stderr)
    finally:
        await store.close()
    return 0


async def _import(settings: Settings, file: str) -> int:
    from dionysus_mcp.runtime import build_store
    from dionysus_mcp.store.transfer import import_records, parse_lines

    try:
        if file == "-":
            records = parse_lines(sys.stdin)
        else:
            with open(file, encoding="utf-8") as handle:
                records = parse_lines(handle)
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{file} is not UTF-8 text: expected a file written by `dionysus-mcp export`") from None
    except InvalidInput as exc:
        raise InvalidInput(f"{file}: {exc}; nothing was imported") from None
    from dionysus_mcp.cognition.embedding import create_embedder
    from dionysus_mcp.cognition.reindex import reindex

    store = build_store(settings)
    await store.open()
    try:
        report = await import_records(store, records)
        # An export carries no vectors (they belong to a model, and are large): the imported
        # memories are embedded here with the configured model, as `dionysus-mcp reindex` does.
        embedded = (await reindex(store.memories, create_embedder(settings.embedder))).embedded
        meaning = f"; {embedded} memories embedded for recall by meaning" if embedded else ""
        print(f"{report.summary()} into {store.backend} at {await store.describe()}{meaning}")
    finally:
        await store.close()
    return 0
