"""A real OpenAI-compatible chat-completions server on a free loopback port, answering the way
providers do — for provider tests (no network, no hosted LLM).

Its replies come from a policy that READS each request, like a small model would:
  - a planning call (the prompt asks for '<end_plan>', no tools offered) gets a short plan;
  - an agent offered tools (the request's `tools`) calls each tool it has not called yet — the
    arguments built from the tool's JSON schema and the task's 'Context:' line — and then
    final_answer with a summary of the observations it got back;
  - an agent whose system prompt lists team members as functions (`def perception(task...`)
    writes code that delegates to each member it has not called yet, then final_answer with a
    decision built from the reports it read.
How the reply is written is the provider's `style`:
  native  tool calls in `tool_calls`, code in smolagents' <code> tags;
  action  text only: `Action: {"name": ..., "arguments": ...}` (models without native tool calls);
  fenced  code in ```python fences;
  prose   a paragraph of prose before the Action / the code.
`usage=False` omits the usage object. Stop sequences are applied as providers do.

Faults are rules a test adds (`endpoint.fail(...)`): an HTTP status with a JSON error body
(and a Retry-After), an HTML page, or no answer at all (the handler holds the connection until
the server stops). Each rule has a predicate on the request and an optional count. A refused
connection is `closed_port_url()`.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Request = dict[str, Any]


def text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def system_prompt(body: Request) -> str:
    return next((text_of(m) for m in body.get("messages", []) if m.get("role") == "system"), "")


def is_planning(body: Request) -> bool:
    last = text_of(body["messages"][-1]) if body.get("messages") else ""
    return not body.get("tools") and "<end_plan>" in last


def team_of(body: Request) -> list[str]:
    return re.findall(r"def (\w+)\(task\b", system_prompt(body))


def addressed_to(name: str) -> Callable[[Request], bool]:
    """Requests made by the team member `name` (its task says "You are 'name'")."""
    return lambda body: any(f"You are '{name}'" in text_of(m) for m in body.get("messages", []) if m.get("role") == "user")


def context_of(body: Request) -> str:
    for message in body.get("messages", []):
        if message.get("role") == "user":
            found = re.search(r"Context:\s*(.+)", text_of(message))
            if found:
                return found.group(1).strip()[:300]
    return "the current state of the cognitive layer"


def history(body: Request, role: str) -> list[str]:
    return [text_of(m) for m in body.get("messages", [])[1:] if m.get("role") == role]


def observations(body: Request) -> list[str]:
    found = []
    for message in body.get("messages", [])[1:]:
        text = text_of(message)
        if message.get("role") in ("user", "tool") and ("Observation" in text or "managed agent" in text or message.get("role") == "tool"):
            found.append(" ".join(text.replace("Observation:", "").split())[:160])
    return found


def arguments_for(schema: dict[str, Any], context: str) -> dict[str, Any]:
    properties = schema.get("properties", {})
    required = list(schema.get("required", []))
    if not required:  # a tool with only optional inputs: fill its first text input
        required = [n for n, p in properties.items() if p.get("type") == "string"][:1]
    values = {"string": context, "integer": 3, "number": 0.5, "boolean": True, "array": [context[:40]], "object": {}}
    return {name: values.get(properties.get(name, {}).get("type"), context) for name in required}


@dataclass
class Reply:
    content: str | None = None
    tool_call: tuple[str, dict[str, Any]] | None = None


def policy(body: Request, style: str) -> Reply:
    """What a small, obedient model answers to this request."""
    context = context_of(body)
    if is_planning(body):
        return Reply("## 1. Facts survey\nThe task and its context.\n## 2. Plan\n1. Look around.\n2. Answer.\n<end_plan>")
    prose = "I read the task and what came back so far; the next step follows.\n\n" if style == "prose" else ""
    said = "\n".join(history(body, "assistant"))
    team = team_of(body)
    if team:
        pending = [name for name in team if f"{name}(task=" not in said]
        if pending:
            code = f'report = {pending[0]}(task="Context: {context}")\nprint(report)'
        else:
            reports = observations(body)
            failed = [name for name in team if f"FAILED: {name}" in " ".join(reports)]
            decision = f"Act on the team's findings about: {context[:80]}" + (f" (without {', '.join(failed)})" if failed else "")
            answer = {"decision": decision, "actions": [f"follow up on what {n} reported" for n in team if n not in failed], "confidence": 0.4 if failed else 0.7}
            code = f"final_answer({json.dumps(answer)})"
        fence = ("```python\n", "\n```") if style in ("fenced", "prose") else ("<code>\n", "\n</code>")
        return Reply(f"{prose}Thought: the next step of the cycle.\n{fence[0]}{code}{fence[1]}")
    tools = [t["function"] for t in body.get("tools", []) if t.get("type") == "function"]
    called = set(re.findall(r"['\"]name['\"]:\s*['\"](\w+)['\"]", said))
    called |= set(re.findall(r"tool '(\w+)'", "\n".join(history(body, "user"))))  # calls that failed
    # Steps folded into the rolling digest (callbacks/rolling_digest.py) list their calls as "N. tool {…}".
    digests = [t for t in history(body, "user") if "[DIGEST]" in t]
    called |= set(re.findall(r"^\d+\. (\w+) [{\[\"]", "\n".join(digests), re.M))
    last = text_of(body["messages"][-1])
    for tool in tools if "final_answer now" not in last else []:
        if tool["name"] != "final_answer" and tool["name"] not in called:
            return Reply(prose or None, (tool["name"], arguments_for(tool.get("parameters", {}), context)))
    summary = "; ".join(observations(body)[-4:]) or "nothing came back"
    return Reply(prose or None, ("final_answer", {"answer": f"Findings on {context[:60]}: {summary}"}))


def completion(body: Request, reply: Reply, style: str, usage: bool) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    finish = "stop"
    if reply.tool_call is not None:
        name, arguments = reply.tool_call
        if style == "native":
            message["tool_calls"] = [{"id": f"call_{uuid.uuid4().hex[:8]}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}]
            finish = "tool_calls"
        else:
            message["content"] = (reply.content or "") + "Action: " + json.dumps({"name": name, "arguments": arguments})
    content = message["content"]
    for stop in body.get("stop") or []:  # providers cut the output before a stop sequence
        if content and stop in content:
            content = content[: content.index(stop)]
    message["content"] = content
    out: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:10]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "test"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if usage:
        out["usage"] = {"prompt_tokens": max(1, len(json.dumps(body["messages"])) // 4), "completion_tokens": max(1, len(json.dumps(message)) // 4), "total_tokens": 0}
    return out


@dataclass
class Fault:
    kind: str  # status | html | hang
    when: Callable[[Request], bool]
    times: int | None  # None: every matching request
    status: int = 500
    retry_after: str | None = None
    hits: int = 0


@dataclass
class Endpoint:
    style: str = "native"
    usage: bool = True
    requests: list[Request] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    port: int = 0
    hanging: threading.Event = field(default_factory=threading.Event)  # set when a request hangs
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def env(self, model: str = "test-model", **extra: str) -> dict[str, str]:
        return {"DIONYSUS_MODEL": f"openai:{model}", "OPENAI_BASE_URL": self.url, "OPENAI_API_KEY": "sk-test-endpoint-key", **extra}

    def fail(self, kind: str, *, when: Callable[[Request], bool] = lambda body: True, times: int | None = None, status: int = 500, retry_after: str | None = None) -> Fault:
        fault = Fault(kind, when, times, status, retry_after)
        self.faults.append(fault)
        return fault

    def fault_for(self, body: Request) -> Fault | None:
        for fault in self.faults:
            if (fault.times is None or fault.hits < fault.times) and fault.when(body):
                fault.hits += 1
                return fault
        return None


def _handler(endpoint: Endpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if not self.path.rstrip("/").endswith("/chat/completions"):
                return self._send(404, b'{"error": {"message": "no such route"}}', "application/json")
            endpoint.requests.append(body)
            fault = endpoint.fault_for(body)
            if fault is not None and fault.kind == "hang":
                endpoint.hanging.set()
                endpoint.release.wait(120)  # a response that never comes (until the server stops)
                self.close_connection = True
                return None
            if fault is not None and fault.kind == "html":
                page = b"<!DOCTYPE html><html><head><title>Gateway</title></head><body><h1>Welcome to nginx</h1></body></html>"
                return self._send(200, page, "text/html; charset=utf-8")
            if fault is not None:
                error = {"error": {"message": f"simulated {fault.status}", "type": "server_error" if fault.status >= 500 else "rate_limit_exceeded"}}
                headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                return self._send(fault.status, json.dumps(error).encode(), "application/json", headers)
            reply = policy(body, endpoint.style)
            return self._send(200, json.dumps(completion(body, reply, endpoint.style, endpoint.usage)).encode(), "application/json")

    return Handler


@contextmanager
def serving(style: str = "native", usage: bool = True) -> Iterator[Endpoint]:
    endpoint = Endpoint(style=style, usage=usage)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(endpoint))
    server.daemon_threads = True
    endpoint.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="openai-endpoint", daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        endpoint.release.set()
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
