"""Moving everything between stores: export as JSON Lines, import idempotently.

The documented way from the embedded SQLite default to Neo4j: `dionysus-mcp export` on one,
`dionysus-mcp import FILE` on the other. Works on any `Store`, so it moves data either way.

Format (version 1): the first line is a header
    {"format": "dionysus-mcp-export", "version": 1, "exported_at": "...", "source": "sqlite"}
then one record per line, {"type": T, "data": {...}}, T in: basin, link, memory, wisdom,
snapshot, trace, step, trace_basin. `data` holds the store record (schema.models) as JSON.

Import validates every line before it writes anything (an error names the line), then adds
what the target lacks and leaves what it has: importing the same file twice changes nothing.
A basin whose name exists in the target with another id is matched by name, and the records
that refer to it follow. Memory vectors are not exported (they belong to an embedding model);
the import command embeds what it added, as `dionysus-mcp reindex` does.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime

from pydantic import BaseModel, ValidationError

from dionysus_mcp.errors import InvalidInput
from dionysus_mcp.store.base import Store
from schema.models import (
    Basin,
    BasinLink,
    CoherenceSnapshot,
    Memory,
    StepRecord,
    TraceBasinLink,
    TraceFilter,
    TraceRecord,
    WisdomPrinciple,
    utcnow,
)
from schema.trace_writes import AddStep, CreateTrace, LinkTraceBasin

FORMAT = "dionysus-mcp-export"
VERSION = 1
RECORDS: dict[str, type[BaseModel]] = {
    "basin": Basin,
    "link": BasinLink,
    "memory": Memory,
    "wisdom": WisdomPrinciple,
    "snapshot": CoherenceSnapshot,
    "trace": TraceRecord,
    "step": StepRecord,
    "trace_basin": TraceBasinLink,
}
PAGE = 500
# recent_snapshots has no cursor: ask for "all" with a limit every server takes (ArcadeDB
# refuses LIMIT 2**31-1 with "Database error"); an export never cuts silently (see _snapshots).
ALL = 1_000_000


def _line(kind: str, record: BaseModel) -> str:
    return json.dumps({"type": kind, "data": record.model_dump(mode="json")}, ensure_ascii=False, sort_keys=True)


async def export_lines(store: Store, now: datetime | None = None) -> AsyncIterator[str]:
    """Every record of the store, one JSON line each (without newline), header first."""
    header = {"format": FORMAT, "version": VERSION, "exported_at": (now or utcnow()).isoformat(), "source": store.backend}
    yield json.dumps(header, sort_keys=True)
    for b in await store.basins.list():
        yield _line("basin", b)
    for link in await store.basins.links():
        yield _line("link", link)
    for m in await store.memories.list():
        yield _line("memory", m)
    for w in await store.wisdom.list():
        yield _line("wisdom", w)
    for s in reversed(await _snapshots(store)):
        yield _line("snapshot", s)
    traces: list[TraceRecord] = []
    after = None
    while True:
        page = await store.traces.list(TraceFilter(), PAGE, after)
        traces.extend(page)
        if len(page) < PAGE:
            break
        after = (page[-1].started_at, page[-1].id)
    # Oldest first, so a parent comes before the runs it delegated to.
    for t in reversed(traces):
        yield _line("trace", t)
        for step in await store.traces.steps(t.id):
            yield _line("step", step)
        for link in await store.traces.basins(t.id):
            yield _line("trace_basin", link)


async def _snapshots(store: Store) -> list[CoherenceSnapshot]:
    snapshots = await store.snapshots.recent(ALL)
    if len(snapshots) >= ALL:
        raise InvalidInput(f"the store holds {ALL} or more coherence snapshots, more than export/import moves")
    return snapshots


class ImportReport(BaseModel):
    added: dict[str, int]
    already_present: dict[str, int]
    lines: int

    def summary(self) -> str:
        added = ", ".join(f"{n} {k}" for k, n in self.added.items() if n) or "nothing"
        kept = sum(self.already_present.values())
        return f"imported {added} from {self.lines} lines; {kept} records were already present"


def parse_lines(lines: Iterable[str]) -> list[tuple[int, str, BaseModel]]:
    """Validate a whole export; the first problem raises InvalidInput naming its line."""
    records: list[tuple[int, str, BaseModel]] = []
    header_seen = False
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {number}: not JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise InvalidInput(f"line {number}: expected a JSON object")
        if not header_seen:
            if obj.get("format") != FORMAT:
                raise InvalidInput(f"line {number}: not a dionysus-mcp export (the first line must be its header)")
            version = obj.get("version")
            if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
                raise InvalidInput(f"line {number}: export format version {version!r} is not one this version reads (1 to {VERSION})")
            header_seen = True
            continue
        kind = obj.get("type")
        model = RECORDS.get(kind) if isinstance(kind, str) else None
        if model is None:
            raise InvalidInput(f"line {number}: unknown record type {kind!r} (expected one of {', '.join(RECORDS)})")
        try:
            records.append((number, kind, model.model_validate(obj.get("data"))))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "data"
            raise InvalidInput(f"line {number}: {kind} {where}: {err['msg']}") from None
    if not header_seen:
        raise InvalidInput("the file is empty: expected a dionysus-mcp export")
    return records


async def import_records(store: Store, records: list[tuple[int, str, BaseModel]]) -> ImportReport:
    added: Counter[str] = Counter()
    present: Counter[str] = Counter()
    basin_ids: dict[str, str] = {}  # exported id -> id in the target
    # Records with nothing to map, added once by id: the ids the target holds, and how to add.
    by_id: dict[type, tuple[set[str], Callable[..., Awaitable[object]]]] = {
        WisdomPrinciple: ({w.id for w in await store.wisdom.list()}, store.wisdom.add),
        CoherenceSnapshot: ({s.id for s in await _snapshots(store)}, store.snapshots.add),
    }
    new_traces: set[str] = set()

    def mapped(basin_id: str) -> str:
        return basin_ids.get(basin_id, basin_id)

    for _number, kind, record in records:
        # Basins and links are added only where absent, checked in the store's transaction:
        # what the target holds (written by another process meanwhile too) is never overwritten.
        if isinstance(record, Basin):
            existing, was_added = await store.basins.add_if_absent(record)
            (added if was_added else present)[kind] += 1
            basin_ids[record.id] = existing.id
        elif isinstance(record, BasinLink):
            # The target's weight may have moved on since: an existing link keeps it.
            link = BasinLink(source_id=mapped(record.source_id), target_id=mapped(record.target_id), weight=record.weight)
            (added if await store.basins.add_link_if_absent(link) else present)[kind] += 1
        elif isinstance(record, Memory):
            if await store.memories.get(record.id) is None:
                links = [b.model_copy(update={"basin_id": mapped(b.basin_id)}) for b in record.basins]
                await store.memories.add(record.model_copy(update={"basins": links}))
                added[kind] += 1
            else:
                present[kind] += 1
        elif isinstance(record, (WisdomPrinciple, CoherenceSnapshot)):
            known, add = by_id[type(record)]
            if record.id in known:
                present[kind] += 1
            else:
                await add(record)
                known.add(record.id)
                added[kind] += 1
        elif isinstance(record, TraceRecord):
            if await store.traces.get(record.id) is None:
                await store.traces.write([CreateTrace(trace=record)])
                new_traces.add(record.id)
                added[kind] += 1
            else:
                present[kind] += 1
        elif isinstance(record, StepRecord | TraceBasinLink):
            # Written idempotently either way (a step replaces the one with its id, an
            # activation is stored once), which also completes a run an interrupted import
            # left half-way; counted as added only with a run this import added.
            if isinstance(record, StepRecord):
                await store.traces.write([AddStep(step=record)])
            else:
                await store.traces.write([LinkTraceBasin(link=record.model_copy(update={"basin_id": mapped(record.basin_id)}))])
            (added if record.trace_id in new_traces else present)[kind] += 1
    return ImportReport(added=dict(added), already_present=dict(present), lines=len(records) + 1)
