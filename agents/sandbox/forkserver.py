"""Server side of the fork server (agents/sandbox/zygote.py): one warm process, started like a
child (scratch environment, `python -I -S`, empty directory, no descriptor but its control
socket), that forks a fresh child per run for a small part of the CPU a new interpreter costs
(scripts/benchmark_speed.py --only isolation; docs/benchmarks.md).

`ForkedProcess` gives a forked child the part of `subprocess.Popen`'s interface launcher.Child
uses (pid, pipes, poll, wait, terminate, kill): its exit status comes from the zygote, its
parent, which reaps it and signals it only while it has not been reaped. POSIX only; when the
fork server cannot start (or dies), children are started with Popen as before.

A process-wide resource, like a thread pool: started at the first child, ended at interpreter
exit — or by its own end of file when the server process dies, taking its children with it.
A process forked from this one starts its own (`_forget_in_child`).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from typing import Any

log = logging.getLogger(__name__)
READY_S = 30.0


class ForkedProcess:
    """A child forked by the zygote, seen like a Popen."""

    def __init__(self, server: "ForkServer", pid: int, fds: list[int]):
        self.server, self.pid = server, pid
        self.stdin = os.fdopen(fds[0], "wb")
        self.stdout = os.fdopen(fds[1], "rb")
        self.stderr = os.fdopen(fds[2], "rb")
        self.returncode: int | None = None

    def poll(self) -> int | None:
        self.returncode = self.server.exit_code(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        code = self.server.wait_exit(self.pid, timeout)
        if code is None:
            raise subprocess.TimeoutExpired([str(self.pid)], timeout or 0)
        self.returncode = code
        return code

    def terminate(self) -> None:
        self.server.kill(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        self.server.kill(self.pid, signal.SIGKILL)


class ForkServer:
    def __init__(self, argv: list[str], env: dict[str, str], config: dict[str, Any]):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.workdir = tempfile.mkdtemp(prefix="dionysus-code-zygote-")
        try:
            self.process = subprocess.Popen(
                [*argv, json.dumps({**config, "zygote": True, "control_fd": theirs.fileno()})],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=env, cwd=self.workdir, close_fds=True, pass_fds=(theirs.fileno(),),
            )
        finally:
            theirs.close()
        self.control = ours
        self._request = threading.Lock()  # one spawn at a time: replies come in order
        self._send = threading.Lock()  # whole messages: a kill never interleaves with a spawn's bytes
        self._replies: "queue.Queue[tuple[int, list[int]] | None]" = queue.Queue()
        self._exits: dict[int, int] = {}
        self._changed = threading.Condition()
        self.alive = True
        threading.Thread(target=self._read, name="code-forkserver", daemon=True).start()

    def _read(self) -> None:
        try:
            self._read_replies()
        except Exception:  # noqa: BLE001 - whatever broke the channel, nobody may wait on it
            log.exception("the fork server's channel failed; children are started one by one")
        finally:
            with self._changed:  # the zygote ended (or cannot be heard): so did (or will) its children
                self.alive = False
                self._changed.notify_all()
            self._replies.put(None)

    def _read_replies(self) -> None:
        buffer, fds = b"", []
        while True:
            try:
                data, got, _, _ = socket.recv_fds(self.control, 65536, 16)
            except OSError:
                data, got = b"", []
            fds.extend(got)
            if not data:
                break
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                message = json.loads(line)
                if message["t"] == "spawned":
                    self._replies.put((int(message["pid"]), fds[:3]))
                    fds = fds[3:]
                elif message["t"] == "exit":
                    with self._changed:
                        self._exits[int(message["pid"])] = int(message["code"])
                        self._changed.notify_all()

    def spawn(self, config: dict[str, Any]) -> ForkedProcess | None:
        with self._request:
            if not self.alive:
                return None
            try:
                with self._send:
                    self.control.sendall((json.dumps({"t": "spawn", "config": config}) + "\n").encode())
            except OSError:
                return None
            try:
                reply = self._replies.get(timeout=READY_S) if self.alive else None
            except queue.Empty:  # a zygote that does not answer is no longer used
                self.alive = False
                reply = None
        if reply is None:
            return None
        return ForkedProcess(self, *reply)

    def exit_code(self, pid: int) -> int | None:
        with self._changed:
            if pid in self._exits:
                return self._exits[pid]
            return None if self.alive else -signal.SIGKILL

    def wait_exit(self, pid: int, timeout: float | None) -> int | None:
        with self._changed:
            self._changed.wait_for(lambda: pid in self._exits or not self.alive, timeout)
        return self.exit_code(pid)

    def kill(self, pid: int, sig: int) -> None:
        try:
            with self._send:
                self.control.sendall((json.dumps({"t": "kill", "pid": pid, "signal": int(sig)}) + "\n").encode())
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.control.shutdown(socket.SHUT_RDWR)  # the zygote's end of file: it kills its children
        except OSError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.control.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


_lock = threading.Lock()
_server: ForkServer | None = None
_failed = False


def fork(argv: list[str], env: dict[str, str], config: dict[str, Any]) -> ForkedProcess | None:
    """A child forked by the (started on first use) fork server; None where there is none."""
    global _server, _failed
    if os.name != "posix" or not hasattr(socket, "send_fds"):
        return None
    with _lock:
        if _server is not None and not _server.alive:
            _server.close()
            _server = None
        if _server is None and not _failed:
            try:
                _server = ForkServer(argv, env, {k: v for k, v in config.items() if k == "executor"})
            except OSError as exc:
                log.warning("no fork server for the manager's code (%s): children are started one by one", exc)
                _failed = True
        server = _server
    return server.spawn(config) if server is not None else None


def zygote_pid() -> int | None:
    with _lock:
        return _server.process.pid if _server is not None and _server.alive else None


def close() -> None:
    global _server
    with _lock:
        server, _server = _server, None
    if server is not None:
        server.close()


def _forget_in_child() -> None:
    # A process forked from this one (a pre-forking server, a test runner, multiprocessing's
    # fork) inherits the control socket but not the zygote, which is the parent's child. It
    # must not use it, nor shut it down at its exit: shutdown acts on the socket both share, and
    # would end the parent's zygote under it. The child closes its copy of the descriptor only
    # (so the zygote still sees its end of file when the parent dies) and starts its own server
    # if it ever needs one.
    global _server, _failed, _lock
    server, _server, _failed, _lock = _server, None, False, threading.Lock()
    if server is not None:
        server.control.close()


atexit.register(close)
if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork server to inherit
    os.register_at_fork(after_in_child=_forget_in_child)
