"""A stdio server whose client goes away at any moment of start-up exits quietly: no traceback.

The client here is a plain pipe, so it can leave at exact points of the protocol: before saying
anything, right after `initialize`, after the handshake, right after the first tool result (when
the idle warm-up thread starts loading the embedding model and the tokenizer), and by being
killed while a tool call is in flight. Before dionysus_mcp/warm_up.py, a quick exit printed
`RuntimeError: can't register atexit after shutdown` from the tokenizer warm-up thread importing
bpe_openai while the interpreter shut down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "leaver", "version": "0"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST_BASINS = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_basins", "arguments": {}}}
RECALL = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "semantic_recall", "arguments": {"query": "what did I plan"}}}


class Server:
    def __init__(self, tmp_path: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "DIONYSUS_"))}
        env.update({"DIONYSUS_DB_PATH": str(tmp_path / "d.db"), "DIONYSUS_LOG_LEVEL": "WARNING"})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dionysus_mcp", "serve"], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )

    def send(self, message: dict) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def answer(self) -> dict:
        assert self.proc.stdout is not None
        return json.loads(self.proc.stdout.readline())

    def hang_up(self) -> tuple[int, str]:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=60)
        return code, self.proc.stderr.read().decode(errors="replace")


def handshake(server: Server) -> None:
    server.send(INITIALIZE)
    assert server.answer()["id"] == 1
    server.send(INITIALIZED)


def before_anything(server: Server) -> None:
    pass


def after_initialize_sent(server: Server) -> None:
    server.send(INITIALIZE)


def after_handshake(server: Server) -> None:
    handshake(server)


def after_first_result(server: Server) -> None:
    handshake(server)
    server.send(LIST_BASINS)
    assert server.answer()["id"] == 2  # the warm-up thread starts now; the client leaves at once


def during_a_recall(server: Server) -> None:
    handshake(server)
    server.send(RECALL)  # loads the model on its own: no warm-up has run yet


@pytest.mark.parametrize("leave", [before_anything, after_initialize_sent, after_handshake, after_first_result, during_a_recall])
def test_a_client_that_hangs_up_leaves_no_traceback(tmp_path, leave):
    server = Server(tmp_path)
    leave(server)
    code, stderr = server.hang_up()
    assert "Traceback" not in stderr and "Error" not in stderr, stderr[-3000:]
    assert code == 0, stderr[-3000:]


def test_a_server_terminated_while_warming_up_leaves_no_traceback(tmp_path):
    server = Server(tmp_path)
    after_first_result(server)
    server.proc.send_signal(signal.SIGTERM)
    code, stderr = server.hang_up()
    assert "Traceback" not in stderr, stderr[-3000:]
    assert code in (0, -signal.SIGTERM), stderr[-3000:]
