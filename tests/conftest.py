"""Fixtures shared by every test directory: the stores, and the real Bolt server behind Neo4jStore.

The Bolt server is ArcadeDB from the `arcadedb-embedded` wheel (scripts/bolt_server.py): one JVM
per test session, one fresh database per test. When the wheel or its Java runtime is missing,
tests that need it are skipped with the reason — except in CI (env `CI` set), where they fail:
a Bolt test must never pass by not running.

Recall by meaning is on only where a test is about it: the session runs with
DIONYSUS_EMBEDDER=none (every runtime, CLI and server subprocess the tests start inherits it),
and a test marked `meaning` runs with the product's default embedder, MiniLM (loaded once per
process: cognition/minilm.py keeps one copy). Words-only recall is a real mode of the product
(`none`), not a stand-in.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType

import anyio
import pytest
from filelock import FileLock

from dionysus_mcp.config import Settings
from dionysus_mcp.runtime import open_runtime
from tests.helpers import settings_env

ROOT = Path(__file__).resolve().parent.parent
os.environ["DIONYSUS_EMBEDDER"] = "none"  # see the module docstring; `meaning` tests set minilm


def load_bolt_server_module() -> ModuleType:
    """scripts/bolt_server.py as a module (scripts/ is not a package)."""
    name = "dionysus_bolt_server"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "bolt_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Anything that asks for the Bolt server by name gets the `bolt` marker (-m "not bolt").
    for item in items:
        if {"bolt_server", "bolt_runtime", "neo4j_store_factory"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.bolt)


@pytest.fixture(autouse=True)
def _embedder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The embedder a test runs with: MiniLM (the default) when it is marked `meaning`."""
    name = "minilm" if request.node.get_closest_marker("meaning") else "none"
    monkeypatch.setenv("DIONYSUS_EMBEDDER", name)
    return name


@pytest.fixture(scope="session")
def bolt_runtime() -> ModuleType:
    """The bolt_server module, once the ArcadeDB wheel and its JRE are known to be installed."""
    module = load_bolt_server_module()
    try:
        module.find_runtime()
    except module.BoltServerUnavailable as exc:
        if in_ci():
            pytest.fail(f"the Bolt test server cannot run in CI: {exc}", pytrace=False)
        pytest.skip(f"no local Bolt server: {exc}")
    return module


SHARED_BOLT_DIR = "bolt-server-shared"


@contextmanager
def own_bolt_server(bolt_runtime: ModuleType, folder: Path):
    """A Bolt server started for one caller and stopped when it is done."""
    server = bolt_runtime.BoltServer(folder, heap="512m")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def bolt_server(bolt_runtime: ModuleType, tmp_path_factory: pytest.TempPathFactory):
    """One ArcadeDB server (Bolt on a free loopback port) for the whole session.

    Yields the started `BoltServer` (uri, user, password, database). A start-up failure is an
    error, never a skip. Every test gets its own database on it (`neo4j_database`,
    `neo4j_store_factory`), so tests never see each other's data.

    Under xdist the workers share one server: the first worker that needs it starts it (under a
    file lock, in the folder all workers' temporary folders share) and the others connect; each
    JVM would otherwise pay its own start and compile the same code again. The controller stops
    it when the session ends (`pytest_sessionfinish`), as a worker that runs out of test files
    ends while the others still use it (a controller killed outright leaves it running:
    `python scripts/bolt_server.py stop --dir <that folder>`). A test that stops or freezes its
    server uses a server of its own (tests/integration/test_outage.py overrides this fixture).
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        with own_bolt_server(bolt_runtime, tmp_path_factory.mktemp("bolt-server")) as server:
            yield server
        return
    folder = tmp_path_factory.getbasetemp().parent / SHARED_BOLT_DIR
    with FileLock(f"{folder}.lock"):
        server = bolt_runtime.BoltServer(folder, heap="768m", die_with_parent=False)
        server.start()  # a no-op when another worker started it: it reads the folder's state
    yield server


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The xdist controller stops the server its workers shared (see `bolt_server`)."""
    if os.environ.get("PYTEST_XDIST_WORKER") or not getattr(session.config.option, "numprocesses", None):
        return
    # the workers' temporary folders are inside the controller's (xdist gives each its own)
    folder = session.config._tmp_path_factory.getbasetemp() / SHARED_BOLT_DIR
    if (folder / "bolt_server.json").exists():
        load_bolt_server_module().BoltServer(folder, die_with_parent=False).stop()


@pytest.fixture
async def neo4j_store_factory(bolt_server):
    """An async callable returning an opened `Neo4jStore`.

    The first call in a test creates a fresh, empty database for it (creating one costs a few
    milliseconds on ArcadeDB, cheaper and more thorough than wiping); later calls open another
    store on that same database (e.g. to check that data survives a reopen), unless called with
    `fresh=True`. Every store produced is closed, and the databases dropped, at teardown.
    """
    from dionysus_mcp.store.neo4j import Neo4jStore

    stores: list[Neo4jStore] = []
    databases: list[str] = []

    async def make(*, fresh: bool = False, **options) -> Neo4jStore:
        if fresh or not databases:
            name = f"t{uuid.uuid4().hex[:16]}"
            bolt_server.create_database(name)
            databases.append(name)
        store = Neo4jStore(bolt_server.uri, bolt_server.user, bolt_server.password, databases[-1], **options)
        await store.open()
        stores.append(store)
        return store

    yield make

    for store in stores:
        await store.close()
    if bolt_server.is_running():
        for name in databases:
            try:
                bolt_server.drop_database(name)
            except RuntimeError as exc:  # BoltServerError: leave it, the session dir goes anyway
                print(f"could not drop test database {name}: {exc}", file=sys.stderr)


@pytest.fixture
def neo4j_database(bolt_server):
    """A fresh, empty database on the session's Bolt server. At teardown the server is started
    again if the test left it stopped (other tests share it), then the database is dropped."""
    name = f"t{uuid.uuid4().hex[:16]}"
    bolt_server.create_database(name)
    yield name
    if not bolt_server.is_running():
        bolt_server.start()
    bolt_server.drop_database(name)


@pytest.fixture
def cypher(bolt_server, neo4j_database):
    """Run a query on the test database with the official (synchronous) driver: an account of
    the graph independent of the store under test."""
    import neo4j

    driver = neo4j.GraphDatabase.driver(bolt_server.uri, auth=(bolt_server.user, bolt_server.password))

    def run(query: str, **params):
        with driver.session(database=neo4j_database) as session:
            return [record.data() for record in session.run(query, params)]

    yield run
    driver.close()


@pytest.fixture
async def sqlite_store(tmp_path):
    """An opened `SQLiteStore` on a new file, closed at teardown."""
    from dionysus_mcp.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "t.db")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


# --- a runtime on a real SQLite file, on a clock the test moves -------------------------------


class FakeClock:
    """A clock tests move by hand (dionysus_mcp/clock.py), so decay, leases, retries and timers
    are exact and deterministic: `advance` moves wall and monotonic time together and wakes
    the timers it makes due."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self.elapsed = 1000.0
        self._sleepers: list[tuple[float, anyio.Event]] = []

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.elapsed

    async def sleep(self, seconds: float) -> None:
        due = anyio.Event()
        self._sleepers.append((self.elapsed + seconds, due))
        await due.wait()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.elapsed += seconds
        for entry in [e for e in self._sleepers if e[0] <= self.elapsed]:
            self._sleepers.remove(entry)
            entry[1].set()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path, _embedder) -> Settings:
    return Settings.from_env(settings_env(DIONYSUS_DB_PATH=str(tmp_path / "dionysus.db")))


@pytest.fixture
def held(settings, monkeypatch):
    """A loopback model that answers two calls, then holds the rest until released; and
    settings that use it."""
    from tests.llm_server import LoopbackLLM

    llm = LoopbackLLM(answer=2).start()
    try:
        for key, value in llm.env().items():
            monkeypatch.setenv(key, value)
        yield llm, settings.replace(model=llm.env()["DIONYSUS_MODEL"], model_timeout_s=600.0, model_retries=0)
    finally:
        llm.stop()


@pytest.fixture
async def runtime(settings, clock):
    """A real runtime on a real SQLite file, with every service on the fake clock."""
    async with open_runtime(settings, clock=clock) as rt:
        yield rt


@pytest.fixture
async def rt(tmp_path, _embedder):
    """A runtime on a real clock (lists are ordered by start time), seeded with the demo memory."""
    from agents.demo import seed_if_empty

    async with open_runtime(Settings.from_env(settings_env(DIONYSUS_DB_PATH=str(tmp_path / "seeded.db")))) as runtime:
        await seed_if_empty(runtime)
        yield runtime
