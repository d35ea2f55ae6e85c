"""The local Bolt test server (scripts/bolt_server.py): start, stop, restart on the same port
and data directory — what the Neo4j outage tests rely on."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _query(server, cypher: str, **params):
    import neo4j

    with neo4j.GraphDatabase.driver(server.uri, auth=(server.user, server.password)) as driver:
        records, _, _ = driver.execute_query(cypher, params, database_=server.database)
        return [r.data() for r in records]


def test_free_port_is_loopback_and_bindable(bolt_runtime):
    port = bolt_runtime.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_start_stop_restart_keeps_port_and_data(bolt_runtime, tmp_path):
    server = bolt_runtime.BoltServer(tmp_path / "arcade", database="restart_test", heap="256m")
    with server:
        assert server.uri.startswith("bolt://127.0.0.1:")
        bolt_port, http_port, pid = server.bolt_port, server.http_port, server.pid
        assert server.is_running() and _accepts(bolt_port)
        _query(server, "CREATE (n:Probe {id: $id, value: $value})", id="p1", value=42)

        server.stop()
        assert not server.is_running()
        assert not _accepts(bolt_port), "the Bolt listener must be gone after stop()"

        server.start()
        assert (server.bolt_port, server.http_port) == (bolt_port, http_port)
        assert server.pid != pid
        rows = _query(server, "MATCH (n:Probe {id: $id}) RETURN n.value AS value", id="p1")
        assert rows == [{"value": 42}]
        # The listener is bound to loopback only, not 0.0.0.0.
        assert "Listening for incoming BOLT connections on /127.0.0.1:" in server.log_path.read_text()
    assert not server.is_running()
    assert not _accepts(bolt_port)


def test_start_twice_is_a_noop_and_stop_twice_is_safe(bolt_runtime, tmp_path):
    server = bolt_runtime.BoltServer(tmp_path / "arcade", heap="256m")
    try:
        first = server.start()
        assert server.start() == first
        assert server.database in server.databases()
    finally:
        server.stop()
        server.stop()
    assert not server.is_running()


def test_password_never_appears_in_log_tail(bolt_runtime, tmp_path):
    server = bolt_runtime.BoltServer(tmp_path / "x", password="secret-pass-123")
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    server.log_path.write_text("rootPassword=secret-pass-123\n")
    assert "secret-pass-123" not in server.log_tail()


def test_missing_runtime_is_reported(bolt_runtime, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "arcadedb_embedded":
            raise ImportError("no wheel")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(bolt_runtime.BoltServerUnavailable, match="arcadedb-embedded"):
        bolt_runtime.find_runtime()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_jvm_dies_with_the_python_process_that_started_it(bolt_runtime, tmp_path):
    """A test run killed by a timeout (no fixture teardown) must not leave a JVM behind."""
    script = (
        "import importlib.util, os, sys\n"
        f"spec = importlib.util.spec_from_file_location('bs', {str(bolt_runtime.__file__)!r})\n"
        "bs = importlib.util.module_from_spec(spec); spec.loader.exec_module(bs)\n"
        f"server = bs.BoltServer({str(tmp_path / 'orphan')!r}, heap='256m')\n"
        "server.start()\n"
        "print(server.pid, flush=True)\n"
        "os._exit(0)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, check=True)
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and bolt_runtime._pid_alive(pid):
        time.sleep(0.2)
    assert not bolt_runtime._pid_alive(pid), "the JVM outlived the process that started it"
