"""Connection plumbing of the Neo4j store: driver, sessions, transactions, error mapping, schema.

The aggregates (basins, memories, wisdom, traces) each hold the store's `Neo4jConnection` (as a
`Neo4jPart`) and only ever talk to the server through `_read` / `_write` / `_read_fn` /
`_write_fn`, so retries, timeouts and the mapping of driver errors to `StoreError` live here once.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import anyio

from ..base import StoreError, StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

RMW_IN_FLIGHT = 4  # read-modify-write transactions one store runs at once (Neo4jConnection._locking_fn)


# --- schema files --------------------------------------------------------------------------------


def schema_statements() -> list[str]:
    """The statements of schema/neo4j/*.cypher in file-name order (`;`-separated, `//` comments)."""
    folder = importlib.resources.files("schema") / "neo4j"
    statements: list[str] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".cypher"):
            continue
        statements.extend(parse_cypher_script(entry.read_text(encoding="utf-8")))
    return statements


def parse_cypher_script(text: str) -> list[str]:
    """Statements separated by `;`; lines whose first non-blank characters are `//` are
    comments (whole lines only, so a `//` inside a string literal is left alone)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("//")]
    return [" ".join(part.split()) for part in "\n".join(lines).split(";") if part.strip()]


# --- running a query inside a transaction -----------------------------------------------------------


async def _fetch(tx: Any, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    result = await tx.run(query, params)
    return [record.data() async for record in result]


async def _run_consume(tx: Any, query: str, params: dict[str, Any]) -> None:
    await (await tx.run(query, params)).consume()


class _ConstraintViolation(StoreError):
    """A uniqueness constraint refused a write (a duplicate id, or a lost MERGE race)."""


# --- the connection --------------------------------------------------------------------------------


class Neo4jConnection:
    """Driver, sessions and transactions; every aggregate holds it."""

    def __init__(
        self,
        uri: str,
        username: str,
        password: str | None,
        database: str,
        *,
        connection_timeout: float = 5.0,
        max_transaction_retry_time: float = 15.0,
        transaction_timeout: float = 10.0,
        read_only: bool = False,
    ) -> None:
        self._read_only = read_only  # a read-only open leaves the schema alone
        self._uri = uri
        self._username = username
        self._password = password or ""
        self._database = database
        self._connection_timeout = connection_timeout
        self._max_retry = max_transaction_retry_time
        # The driver has no read timeout: a server that accepts connections but never answers
        # would hold a call (and an agent run's trace write) forever. Past this, StoreUnavailable.
        self._transaction_timeout = transaction_timeout
        self._driver: Any = None
        self._locking: Any = None  # made on first use, inside a loop (see _locking_fn)

    @property
    def database(self) -> str:
        return self._database

    @property
    def uri(self) -> str:
        """The Bolt URI without credentials."""
        return self._safe_uri()

    def __repr__(self) -> str:
        return f"Neo4jStore({self._safe_uri()!r}, database={self._database!r})"

    # --- lifecycle ---------------------------------------------------------------------------
    async def open(self, after_schema: Callable[[], Awaitable[None]] | None = None) -> None:
        """Connect and (unless read-only) apply the schema, then `after_schema` (what the
        aggregates detect once it is applied); a failure closes the driver again."""
        if self._driver is not None:
            return
        from neo4j import AsyncGraphDatabase  # noqa: PLC0415 - keep start-up light

        try:
            self._driver = AsyncGraphDatabase.driver(
                self._uri,
                auth=(self._username, self._password),
                connection_timeout=self._connection_timeout,
                connection_acquisition_timeout=self._connection_timeout * 2,
                max_transaction_retry_time=0,  # retries are ours: see _transact
                user_agent="dionysus-mcp",
            )
        except Exception as exc:  # bad scheme / malformed URI / bad options
            raise StoreError(f"cannot use NEO4J_URI {self._safe_uri()!r}: {self._clean(exc)}") from None
        try:
            try:
                await self._guard(self._driver.verify_connectivity())
            except ValueError as exc:  # an address the resolver refuses, e.g. bolt://host:<not a port>
                raise StoreError(f"cannot use NEO4J_URI {self._safe_uri()!r}: {self._clean(exc)}") from None
            if not self._read_only:
                await self.apply_schema()
                if after_schema is not None:
                    await after_schema()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        driver, self._driver = self._driver, None
        if driver is not None:
            try:
                await driver.close()
            except Exception as exc:  # closing a driver to a dead server must not raise
                log.debug("closing the Neo4j driver: %s", self._clean(exc))

    async def apply_schema(self) -> list[str]:
        statements = schema_statements()
        # Schema statements each run in their own transaction (Neo4j refuses schema and data
        # changes in one transaction, and some servers refuse several schema changes in one).
        for statement in statements:
            await self._write(_run_consume, statement, {})
        return statements

    async def describe(self) -> str:
        return f"{self._safe_uri()} (database {self._database})"

    # --- secrets stay out of messages ----------------------------------------------------------
    def _safe_uri(self) -> str:
        """The URI without user info, query or fragment."""
        try:
            parts = urlsplit(self._uri)
            host = parts.hostname or ""
            if ":" in host:
                host = f"[{host}]"
            netloc = host + (f":{parts.port}" if parts.port else "")
            return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        except ValueError:
            return "<invalid NEO4J_URI>"

    def _clean(self, exc: BaseException) -> str:
        # One line: the driver's messages span lines and name its address objects
        # ("ResolvedIPv4Address(('127.0.0.1', 1))"); a user needs host:port.
        text = " ".join((str(exc) or type(exc).__name__).split())
        text = re.sub(r"Resolved(?:IPv[46])?Address\(\('([^']*)', (\d+)[^)]*\)\)", r"\1:\2", text)
        if self._password:
            text = text.replace(self._password, "***")
        if self._uri and self._uri != self._safe_uri():
            text = text.replace(self._uri, self._safe_uri())
        return text[:1000]

    def _map(self, exc: BaseException) -> StoreError:
        from neo4j import exceptions as nx  # noqa: PLC0415

        where = f"Neo4j at {self._safe_uri()} (database {self._database})"
        if isinstance(exc, StoreError):
            return exc
        if isinstance(
            exc,
            (nx.ServiceUnavailable, nx.SessionExpired, nx.ConnectionPoolError, nx.DatabaseUnavailable, OSError),
        ):
            return StoreUnavailable(f"{where} is unreachable: {self._clean(exc)}")
        if isinstance(exc, nx.AuthError):
            return StoreError(f"{where} rejected the credentials of user {self._username!r}: check NEO4J_USERNAME/NEO4J_PASSWORD")
        if isinstance(exc, nx.ConstraintError):
            return _ConstraintViolation(f"{where}: constraint violated: {self._clean(exc)}")
        return StoreError(f"{where}: {type(exc).__name__}: {self._clean(exc)}")

    # --- sessions and transactions -------------------------------------------------------------
    def _session(self) -> Any:
        if self._driver is None:
            raise StoreError("the Neo4j store is not open: call open() first")
        return self._driver.session(database=self._database)

    async def _guard(self, awaitable: Awaitable[T]) -> T:
        from neo4j.exceptions import DriverError, Neo4jError  # noqa: PLC0415

        try:
            return await awaitable
        except (DriverError, Neo4jError, OSError, StoreError) as exc:
            raise self._map(exc) from None

    async def _transact(self, work: Callable[[Any], Awaitable[T]], *, write: bool, retry_on_constraint_error: bool = False) -> T:
        """Run `work` in one managed transaction, retrying what is worth retrying.

        The driver's own retry loop is off (max_transaction_retry_time=0): its first back-off
        is a whole second, and it treats "server down" like a passing conflict, which would
        hold every call for the full retry budget during an outage. Instead:

        - transient errors (deadlocks, concurrent-modification conflicts; ArcadeDB reports
          these often when many tasks append relationships to one node) are retried with a
          short jittered back-off within `max_transaction_retry_time`;
        - a lost connection is retried once at once (pooled connections die with a server
          restart), then reported as StoreUnavailable, so callers can fall back quickly;
        - `retry_on_constraint_error=True` (for an idempotent MERGE) runs `work` again, at most
          twice, after a ConstraintError: Neo4j serialises two writers racing to create the
          same node on its uniqueness constraint and the second MERGE matches, but ArcadeDB
          refuses the second with a ConstraintError; running the MERGE again then matches.
        Raising inside `work` rolls the transaction back.
        """
        from neo4j import exceptions as nx  # noqa: PLC0415

        deadline = time.monotonic() + self._max_retry
        transient = reconnects = constraint_retries = 0
        while True:
            try:
                async with asyncio.timeout(self._transaction_timeout):
                    async with self._session() as session:
                        run = session.execute_write if write else session.execute_read
                        return await run(work)
            except TimeoutError:
                raise StoreUnavailable(
                    f"Neo4j at {self._safe_uri()} (database {self._database}) did not answer within "
                    f"{self._transaction_timeout:g} s"
                ) from None
            except StoreError:
                raise
            except nx.ConstraintError as exc:
                if retry_on_constraint_error and constraint_retries < 2:
                    constraint_retries += 1
                    continue
                raise self._map(exc) from None
            except (nx.ServiceUnavailable, nx.SessionExpired, nx.DatabaseUnavailable, OSError) as exc:
                if reconnects < 1:
                    reconnects += 1
                    continue
                raise self._map(exc) from None
            except nx.TransientError as exc:
                transient += 1
                delay = min(0.5, 0.01 * 2**transient) * random.uniform(0.5, 1.5)
                if time.monotonic() + delay > deadline:
                    raise self._map(exc) from None
                await asyncio.sleep(delay)
            except (nx.DriverError, nx.Neo4jError) as exc:
                raise self._map(exc) from None

    async def _write_fn(self, work: Callable[[Any], Awaitable[T]], *, retry_on_constraint_error: bool = False) -> T:
        return await self._transact(work, write=True, retry_on_constraint_error=retry_on_constraint_error)

    async def _read_fn(self, work: Callable[[Any], Awaitable[T]]) -> T:
        return await self._transact(work, write=False)

    async def _locking_fn(self, work: Callable[[Any], Awaitable[T]], *, retry_on_constraint_error: bool = False) -> T:
        """A read-modify-write: a write transaction that takes the write locks of what it
        changes before it reads it. At most RMW_IN_FLIGHT of them run at once per store: on
        Neo4j more would only queue on the server's locks, and on an optimistic server
        (ArcadeDB) a hundred at once on one node collide, retry and burn the retry budget
        (measured: two processes × 100 activations of one basin failed some after 15 s).
        Backpressure only — correctness comes from the locks, across processes too."""
        if self._locking is None:
            self._locking = anyio.CapacityLimiter(RMW_IN_FLIGHT)
        async with self._locking:
            return await self._transact(work, write=True, retry_on_constraint_error=retry_on_constraint_error)

    async def _write(
        self, fn: Callable[..., Awaitable[T]], query: str, params: dict[str, Any], *, retry_on_constraint_error: bool = False
    ) -> T:
        return await self._write_fn(lambda tx: fn(tx, query, params), retry_on_constraint_error=retry_on_constraint_error)

    async def _read(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return await self._read_fn(lambda tx: _fetch(tx, query, params or {}))


class Neo4jPart:
    """One aggregate of the Neo4j store: it holds the store's connection (composition) and runs
    each operation in one of its managed transactions (retries and error mapping are the
    connection's)."""

    def __init__(self, db: Neo4jConnection):
        self.db = db

    async def _write_fn(self, work: Callable[[Any], Awaitable[T]], *, retry_on_constraint_error: bool = False) -> T:
        return await self.db._write_fn(work, retry_on_constraint_error=retry_on_constraint_error)

    async def _read_fn(self, work: Callable[[Any], Awaitable[T]]) -> T:
        return await self.db._read_fn(work)

    async def _locking_fn(self, work: Callable[[Any], Awaitable[T]], *, retry_on_constraint_error: bool = False) -> T:
        return await self.db._locking_fn(work, retry_on_constraint_error=retry_on_constraint_error)

    async def _write(
        self, fn: Callable[..., Awaitable[T]], query: str, params: dict[str, Any], *, retry_on_constraint_error: bool = False
    ) -> T:
        return await self.db._write(fn, query, params, retry_on_constraint_error=retry_on_constraint_error)

    async def _read(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return await self.db._read(query, params)
