"""The command line as a user meets it, each command a real subprocess: --version, forgetting,
messages that fit the situation, read-only databases, one-line start-up failures, the HTTP
server saying where it listens, and the demo in its own database."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import seed_traces, settings_env


def run(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dionysus_mcp", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, input="")


def env_for(db: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "DIONYSUS_DB_PATH": str(db), "DIONYSUS_LOG_LEVEL": "WARNING", **extra}


def one_line_failure(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0, proc.stdout
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr.strip()


def test_version(tmp_path):
    from importlib.metadata import version

    done = run("--version", env=env_for(tmp_path / "x.db"))
    assert done.returncode == 0 and done.stdout.strip() == f"dionysus-mcp {version('dionysus-mcp')}"


async def test_listing_messages_fit_the_situation(tmp_path):
    db = tmp_path / "s.db"
    env = env_for(db)
    assert "no SQLite store at" in one_line_failure(run("traces", "list", env=env))
    await seed_traces(db)
    nosuch = run("traces", "list", "--agent", "nosuch", env=env)
    assert nosuch.returncode == 0
    assert "no runs match --agent nosuch (2 runs stored" in nosuch.stdout and "no runs stored yet" not in nosuch.stdout
    usage = run("traces", "usage", "--since", "2099-01-01", env=env)
    assert "more than a year ahead" in one_line_failure(usage)
    usage = json.loads(run("traces", "usage", "--since", "2020-01-01", env=env).stdout)
    assert usage["runs"] == 2
    missing = one_line_failure(run("traces", "show", "nope", env=env))
    assert "`dionysus-mcp traces list`" in missing and "list_traces" not in missing


async def test_forgetting_on_the_command_line(tmp_path):
    db = tmp_path / "f.db"
    env = env_for(db)
    root, child = await seed_traces(db)
    from dionysus_mcp.config import Settings
    from dionysus_mcp.runtime import open_runtime

    async with open_runtime(Settings.from_env({**settings_env(), **env})) as rt:
        await rt.basins.upsert_basin("sleep", keywords=["sleep"])
        memory = await rt.memory.remember("sleep matters")
        principle = await rt.wisdom.add_wisdom("rest")
    assert run("memories", "forget", memory.memory_id, env=env).stdout.startswith(f"memory {memory.memory_id} forgotten")
    assert "nothing was forgotten" in one_line_failure(run("memories", "forget", memory.memory_id, env=env))
    assert "deleted basin 'sleep'" in run("basins", "delete", "sleep", env=env).stdout
    assert "Did you mean: sleep" not in one_line_failure(run("basins", "delete", "sleep", env=env))
    assert run("wisdom", "delete", principle.id, env=env).returncode == 0
    assert "say which runs" in one_line_failure(run("traces", "delete", env=env))
    assert "no runs of agent 'x'" in run("traces", "delete", "--agent", "x", env=env).stdout
    done = run("traces", "delete", root, env=env)
    assert "2 traces (sub-runs included), 1 steps" in done.stdout
    assert run("traces", "list", "--all", env=env).stdout.startswith("no runs stored yet")


@contextlib.contextmanager
def read_only(folder: Path):
    """The folder as the user cannot write it: a read-only bind mount when we are root (root
    writes through permissions), else permissions. Yields the path to read through, and
    whether writes are really refused."""
    if os.geteuid() != 0:
        for p in [folder, *folder.iterdir()]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield folder, True
        finally:
            for p in [folder, *folder.iterdir()]:
                p.chmod(0o755 if p.is_dir() else 0o644)
        return
    mount = folder.parent / "ro-mount"
    mount.mkdir()
    bound = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(mount)], capture_output=True).returncode == 0
    bound = bound and subprocess.run(["mount", "-o", "remount,bind,ro", str(mount)], capture_output=True).returncode == 0
    try:
        yield (mount if bound else folder), bound
    finally:
        if bound:
            subprocess.run(["umount", str(mount)], check=True)


async def test_reading_commands_work_on_a_read_only_database(tmp_path):
    folder = tmp_path / "store"
    folder.mkdir()
    root, _ = await seed_traces(folder / "s.db")
    before = hashlib.sha256((folder / "s.db").read_bytes()).hexdigest()
    with read_only(folder) as (where, enforced):
        env = env_for(where / "s.db")
        assert root in run("traces", "list", env=env).stdout
        assert json.loads(run("traces", "show", root, env=env).stdout)["id"] == root
        assert json.loads(run("traces", "usage", env=env).stdout)["runs"] == 2
        exported = run("export", env=env)
        assert exported.returncode == 0 and len(exported.stdout.splitlines()) > 3
        if enforced:
            assert one_line_failure(run("memories", "forget", "x", env=env)).startswith("dionysus-mcp: ")
    assert hashlib.sha256((folder / "s.db").read_bytes()).hexdigest() == before
    assert not (folder / "outbox.db").exists()


@pytest.mark.parametrize(("args", "expect"), [
    (["serve", "--port", "70000"], "dionysus-mcp serve: argument --port: '70000' must be a whole number from 1 to 65535"),
    (["serve", "--port", "abc"], "'abc' must be a whole number"),
    (["serve", "--transport", "http", "--host", "not a host"], "'not a host' is not an IP address or host name"),
    (["traces", "list", "--status", "meh"], "invalid choice: 'meh'"),
    (["nonsense"], "invalid choice: 'nonsense'"),
])
def test_usage_mistakes_are_one_line(tmp_path, args, expect):
    proc = run(*args, env=env_for(tmp_path / "x.db"))
    assert proc.returncode == 2 and expect in one_line_failure(proc)


@pytest.mark.parametrize(("env_extra", "args", "expect"), [
    ({"NEO4J_URI": "http://user:secret@example.org"}, ["serve"], "NEO4J_URI='http://example.org' must start with bolt://"),
    ({"DIONYSUS_DB_PATH": "/proc/no/such/place.db"}, ["serve"], "cannot create the folder of the SQLite store"),
    ({"DIONYSUS_DB_PATH": "/proc/no/such/place.db"}, ["serve", "--transport", "http", "--port", "8"], "cannot"),
    ({"DIONYSUS_TRACE_RETENTION_DAYS": "soon"}, ["serve"], "DIONYSUS_TRACE_RETENTION_DAYS='soon' is not a number"),
])
def test_start_up_failures_are_one_line(tmp_path, env_extra, args, expect):
    proc = run(*args, env={**env_for(tmp_path / "x.db"), **env_extra})
    message = one_line_failure(proc)
    assert expect in message and "secret" not in message


def test_http_says_where_it_listens_and_a_taken_port_is_one_line(tmp_path):
    from tests.integration.test_http_and_cli import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dionysus_mcp", "serve", "--transport", "http", "--port", str(port)],
                            env=env_for(tmp_path / "h.db"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()  # blocks until the server speaks (or exits)
        assert line.strip() == (f"dionysus-mcp: serving MCP at http://127.0.0.1:{port}/mcp and REST at "
                                f"http://127.0.0.1:{port}/api/agents (Ctrl-C stops)")
        taken = run("serve", "--transport", "http", "--port", str(port), env=env_for(tmp_path / "h.db"))
        assert f"cannot listen on 127.0.0.1:{port}" in one_line_failure(taken)
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.mark.slow
def test_demo_uses_its_own_database(tmp_path):
    store = tmp_path / "mine.db"
    env = {**env_for(store), "XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path)}
    done = run("demo", env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    demo_db = Path(lines[0].removeprefix("Demo database: "))
    assert demo_db.is_file() and demo_db.is_relative_to(tmp_path) and demo_db != store
    assert str(demo_db) in lines[-2] and str(demo_db) in lines[-1]
    assert not store.exists()
    chosen = tmp_path / "chosen.db"
    assert run("demo", "--db", str(chosen), env=env, timeout=300).stdout.startswith(f"Demo database: {chosen}")
    assert chosen.is_file() and not store.exists()
