"""A loopback HTTP server answering the OpenAI chat-completions protocol, for tests that need a
model which can be held mid-run (the scripted policy never waits).

It answers the first `answer` requests with a fixed code step (what a CodeAgent accepts as a
plan and as an action), then holds every later request open — `held` is set when the first one
arrives — until `release()` lets the requests held so far answer (later ones are held again)
or `stop()` opens the gate for good: a run is then reliably in the middle of a step.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLY = "Thought: look around first.\n<code>\nprint('looking around')\n</code>"


class LoopbackLLM:
    def __init__(self, answer: int = 2, reply: str = REPLY):
        self.answer = answer
        self.reply = reply
        self.requests = 0
        self.held = threading.Event()
        self._gate = threading.Event()
        self._stopped = False
        self._lock = threading.Lock()
        llm = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                json.loads(body or b"{}")
                with llm._lock:
                    llm.requests += 1
                    number = llm.requests
                if number > llm.answer and not llm._stopped:
                    with llm._lock:
                        gate = llm._gate
                    llm.held.set()
                    gate.wait(300)
                payload = json.dumps({
                    "id": f"chatcmpl-{number}", "object": "chat.completion", "created": int(time.time()),
                    "model": "loopback",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": llm.reply}}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def env(self) -> dict[str, str]:
        # A held request must outlast the test's waits: no provider timeout or retry cuts it.
        return {"DIONYSUS_MODEL": "openai:loopback", "OPENAI_BASE_URL": self.url, "OPENAI_API_KEY": "loopback-key",
                "DIONYSUS_MODEL_TIMEOUT": "600", "DIONYSUS_MODEL_RETRIES": "0"}

    def start(self) -> "LoopbackLLM":
        self._thread.start()
        return self

    def release(self) -> None:
        with self._lock:
            gate, self._gate = self._gate, threading.Event()
        gate.set()

    def stop(self) -> None:
        self._stopped = True
        self.release()
        self._server.shutdown()
        self._server.server_close()
