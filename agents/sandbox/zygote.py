"""Child side of the fork server: one process that has loaded the code's modules once and
forks a fresh child for each run (POSIX), so a run does not pay the CPU of a new interpreter
and its imports (docs/benchmarks.md).

It runs in child.py's bootstrap (`child.py --zygote`), holds what every child holds (nothing of
the server) and never runs code itself. It talks to the server over one unix socket (the one descriptor it inherits):
  server -> zygote  {"t": "spawn", "config": {...}}   a child: its channel and stderr come back
                                                       as three descriptors (SCM_RIGHTS)
                    {"t": "kill", "pid": n, "signal": s}
  zygote -> server  {"t": "spawned", "pid": n}  (+ the descriptors)
                    {"t": "exit", "pid": n, "code": c} (c < 0: the signal that ended it)
It is the children's parent, so it reaps them (no zombie) and signals only a child it has not
reaped yet (no pid reuse). A forked child closes every descriptor but its own three, resets
signal handling, and only then confines itself and reads code (child.serve).
"""

import json
import os
import select
import signal
import socket
import sys
import types

def _child(config: dict, fds: tuple[int, int, int], serve: object, interpreter: types.ModuleType) -> None:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for target, fd in zip((0, 1, 2), fds):
        os.dup2(fd, target)
    os.closerange(3, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024)
    if config.get("workdir"):
        os.chdir(config["workdir"])  # its own empty directory, made by the server
    code = 0
    try:
        serve(interpreter, config)  # type: ignore[operator]
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:  # noqa: BLE001 - a bug here ends this child only
        code = 70
    finally:
        try:
            sys.stdout.flush()
        except Exception:  # noqa: BLE001
            pass
        os._exit(code)


def run(serve: object, interpreter: types.ModuleType, control_fd: int) -> None:
    control = socket.socket(fileno=control_fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: set[int] = set()
    buffer = b""

    def send(message: dict, fds: list[int] | None = None) -> None:
        data = (json.dumps(message) + "\n").encode()
        if fds:
            socket.send_fds(control, [data], fds)
        else:
            control.sendall(data)

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            send({"t": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status)})

    while True:
        ready, _, _ = select.select([control, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
            reap()
        if control not in ready:
            continue
        chunk = control.recv(65536)
        if not chunk:  # the server is gone: so are the children
            for pid in children:
                os.kill(pid, signal.SIGKILL)
            os._exit(0)
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            message = json.loads(line)
            if message["t"] == "spawn":
                stdin_r, stdin_w = os.pipe()
                stdout_r, stdout_w = os.pipe()
                stderr_r, stderr_w = os.pipe()
                pid = os.fork()
                if pid == 0:
                    os.close(wake_r)
                    os.close(wake_w)
                    for fd in (stdin_w, stdout_r, stderr_r):
                        os.close(fd)
                    _child(message["config"], (stdin_r, stdout_w, stderr_w), serve, interpreter)
                children.add(pid)
                for fd in (stdin_r, stdout_w, stderr_w):
                    os.close(fd)
                send({"t": "spawned", "pid": pid}, [stdin_w, stdout_r, stderr_r])
                for fd in (stdin_w, stdout_r, stderr_r):
                    os.close(fd)
            elif message["t"] == "kill" and message.get("pid") in children:
                try:
                    os.kill(message["pid"], int(message.get("signal", signal.SIGKILL)))
                except ProcessLookupError:
                    pass
        reap()
