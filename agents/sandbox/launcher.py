"""Starting, talking to and ending the child process that runs the manager's code.

A child is forked by the fork server (agents/sandbox/forkserver.py: a warm interpreter started
the same way, cheap per child) or, where there is none, started with `subprocess.Popen`
(fork-exec in C, no `preexec_fn`: safe in a threaded server). Either way: an environment built
from scratch, no descriptor but its stdin, stdout and stderr, an empty temporary working
directory, `python -I -S` (no environment variable and no site-packages read). It confines itself
before it reads any code (agents/sandbox/confine.py).

One reader thread per child turns its stdout into messages in the owner's inbox (a queue), with
a cap on the size of a line; another drains stderr, keeping its start for the log. Ending a
child is terminate, then kill, then reap: no stray process, no zombie.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from typing import Any

from agents.sandbox import forkserver
from agents.sandbox.channel import MAX_MESSAGE, decode, encode

CHILD_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")
log = logging.getLogger(__name__)
STOP_GRACE_S = 1.0  # between terminate and kill
KILL_WAIT_S = 5.0  # after kill: a run never waits longer for a child's end
STDERR_KEPT = 4096
_ids = itertools.count(1)


@dataclass(frozen=True)
class SandboxOptions:
    """How the child is confined. Production uses the defaults; nothing reads these from the
    environment or the settings. `escape_hatch` exists for one test only
    (tests/integration/test_manager_sandbox_escape.py): it hands the code `os` and `open`, so the
    test can show the process boundary holds without the guard."""

    landlock: bool = True
    drop_user: bool = True
    escape_hatch: bool = False


def scratch_environment() -> dict[str, str]:
    """Nothing inherited: on POSIX an empty environment; Windows needs SYSTEMROOT to start."""
    if os.name == "nt":
        return {k: v for k, v in os.environ.items() if k.upper() == "SYSTEMROOT"}
    return {}


def executor_source() -> str:
    from smolagents import local_python_executor

    return os.path.abspath(local_python_executor.__file__)


class Child:
    """One child process. Messages it sends arrive in `inbox` as (child, kind, message), kind
    being "message", or "eof" / "oversized" / "garbled" once it can send no more."""

    def __init__(self, inbox: "queue.Queue[tuple[Any, str, Any]]", cpu_seconds: int, options: SandboxOptions):
        self.id = next(_ids)
        self.inbox = inbox
        self.workdir = tempfile.mkdtemp(prefix="dionysus-code-")
        config = {
            "executor": executor_source(),
            "cpu_seconds": cpu_seconds,
            "landlock": options.landlock,
            "drop_user": options.drop_user,
            "escape_hatch": options.escape_hatch,
        }
        argv = [sys.executable, "-I", "-S", "-X", "utf8", CHILD_SCRIPT]
        try:
            self.process: Any = forkserver.fork(argv, scratch_environment(), {**config, "workdir": self.workdir})
            if self.process is None:  # no fork server here: a new interpreter
                self.process = subprocess.Popen(
                    [*argv, json.dumps(config)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=scratch_environment(),
                    cwd=self.workdir,
                    close_fds=True,
                )
        except BaseException:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise
        self.stderr = b""
        self.confinement: list[str] | None = None  # what it reported, once ready
        self.loaded: dict[str, list[str]] = {}  # the modules outside the stdlib it loaded, its sys.path
        self._readers = [
            threading.Thread(target=self._read, name=f"code-child-{self.id}", daemon=True),
            threading.Thread(target=self._drain, name=f"code-child-{self.id}-err", daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            self._put(self._messages(stream))
        finally:
            _close(stream)

    def _messages(self, stream: Any) -> tuple[Any, str, Any]:
        """Puts each message in the inbox; returns the event that ends the channel."""
        while True:
            try:
                line = stream.readline(MAX_MESSAGE + 1)
            except (OSError, ValueError):
                line = b""
            if not line:
                return (self, "eof", None)
            if not line.endswith(b"\n"):
                return (self, "oversized" if len(line) > MAX_MESSAGE else "eof", None)
            try:
                message = decode(line)
            except ValueError:
                return (self, "garbled", None)
            self._put((self, "message", message))

    def _put(self, event: tuple[Any, str, Any]) -> None:
        self.inbox.put(event)

    def _drain(self) -> None:
        stream = self.process.stderr
        assert stream is not None
        try:
            while chunk := stream.read1(65536):
                if len(self.stderr) < STDERR_KEPT:
                    self.stderr = (self.stderr + chunk)[:STDERR_KEPT]
        except (OSError, ValueError):
            pass
        finally:
            _close(stream)

    def send(self, message: dict[str, Any]) -> bool:
        """False when the child can no longer be written to (it ended)."""
        stream = self.process.stdin
        try:
            assert stream is not None
            stream.write(encode(message))
            stream.flush()
            return True
        except (OSError, ValueError):
            return False

    def ended_how(self) -> str:
        """How the process ended, once it has (waits a moment for the exit status)."""
        try:
            code = self.process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            return "it stopped answering"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"

    def stop(self) -> None:
        """Terminate, then kill; reap it and remove its working directory."""
        process = self.process
        if process.poll() is None:
            try:
                process.terminate()
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                try:  # bounded: a forked child's exit is reported by the zygote, which may be gone
                    process.wait(timeout=KILL_WAIT_S)
                except subprocess.TimeoutExpired:
                    log.warning("code child %s did not report its end after SIGKILL; not waiting for it", process.pid)
            except OSError:
                pass
        try:
            if process.stdin is not None:
                process.stdin.close()
        except OSError:
            pass
        # The readers end at the pipes' end of file and close them. A child whose kill could not
        # be delivered (its zygote wedged) keeps them open: closing a buffered pipe another thread
        # is reading would wait for that read, so a reader still running closes its own later.
        for reader in self._readers:
            reader.join(timeout=STOP_GRACE_S)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _close(stream: Any) -> None:
    try:
        stream.close()
    except OSError:
        pass
