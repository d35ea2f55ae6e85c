"""The backends the contract suite runs against.

The contract suite is one set of tests for every store backend, one module per aggregate
(basins, memories, wisdom, traces, plus the plumbing every aggregate shares): same inputs, same
outputs. Each test runs once per backend. It pins the behaviour the services rely on and that
could differ between backends: exact round-trips (timestamps to the microsecond, nested values
decoded and typed), upsert and idempotency rules, atomicity, ordering, filters and keyset
pagination. Record builders shared by the modules live in builders.py.

`open_store` is parametrized with every backend; calling it returns an opened store — the first
call on an EMPTY database for this test, later calls another store on the SAME data (a second
process sharing the file / database, or a reopen). `store` is the first such store.

The parametrization sits on the synchronous `open_store` fixture rather than on the async
`store` fixture on purpose: the Neo4j factory (`neo4j_store_factory`, tests/conftest.py) is an
async fixture, and pytest-asyncio cannot set one up from inside another async fixture
(`request.getfixturevalue` would re-enter the running event loop).

The Neo4j parameter needs the local Bolt server (ArcadeDB): it is marked `bolt`; run the SQLite
half alone with `-k sqlite` or `-m "not bolt"`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from dionysus_mcp.store.base import Store
from dionysus_mcp.store.sqlite import SQLiteStore

OpenStore = Callable[..., Awaitable[Store]]


class _SQLiteFactory:
    """Opens SQLiteStores on one file; closes them all at teardown."""

    def __init__(self, path: Path):
        self.path = path
        self.stores: list[SQLiteStore] = []

    async def __call__(self) -> SQLiteStore:
        store = SQLiteStore(self.path)
        await store.open()
        self.stores.append(store)
        return store

    async def close_all(self) -> None:
        for store in self.stores:
            await store.close()
        self.stores.clear()


@pytest.fixture(params=["sqlite", pytest.param("neo4j", marks=pytest.mark.bolt)])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> OpenStore:
    if request.param == "neo4j":
        # Opened on a fresh, empty database; the factory closes its stores itself.
        return request.getfixturevalue("neo4j_store_factory")
    return _SQLiteFactory(tmp_path / "c.db")


@pytest.fixture
async def store(open_store: OpenStore) -> AsyncIterator[Store]:
    first = await open_store()
    try:
        yield first
    finally:
        if isinstance(open_store, _SQLiteFactory):
            await open_store.close_all()
