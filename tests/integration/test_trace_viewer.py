"""The trace viewer in a real browser (Debian's chromium, headless), served by a real
`serve --transport http` process over a store holding real scripted runs; and the same page as
the MCP App resource the trace and run tools point at.

scripts/test.sh installs chromium when /usr/bin/chromium is missing. Without it the browser
tests skip locally and fail in CI (a page test must never pass by not running).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import json
from html import escape, unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from mcp import Client

from agents.demo import seed_if_empty
from agents.runner import run_ooda_cycle
from dionysus_mcp.config import Settings
from dionysus_mcp.runtime import open_runtime
from dionysus_mcp.surface.server import build_server
from dionysus_mcp.surface.viewer import VIEWER_URI, viewer_html
from tests.conftest import in_ci
from tests.integration.test_http_and_cli import env_for, free_port
from tests.helpers import settings_env

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CONTEXTS = ("I keep losing focus in the afternoons; notifications make it worse.",
            "The exam is tomorrow and I have not slept well.")


@pytest.fixture(scope="module")
def browser() -> str:
    if not os.path.exists(CHROMIUM):
        if in_ci():
            pytest.fail("chromium is missing in CI: scripts/test.sh installs it", pytrace=False)
        pytest.skip("no chromium here: run scripts/test.sh, which installs it")
    return CHROMIUM


def dump_dom(browser: str, url: str, profile: str | None = None) -> str:
    """The page's DOM after its scripts ran (virtual time lets its fetches finish first). Pass a
    `profile` folder to keep cookies from one page to the next, as one browser would."""
    with tempfile.TemporaryDirectory() as scratch:
        proc = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile or scratch}",
             "--virtual-time-budget=20000", "--dump-dom", url],
            capture_output=True, text=True, timeout=180,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def text_of(dom: str, attr: str) -> str:
    match = re.search(rf'{attr}[^>]*>([^<]*)<', dom)
    assert match, f"{attr} not rendered"
    return unescape(match.group(1))


@pytest.fixture
async def stored_runs(tmp_path):
    """Two scripted OODA cycles in a SQLite file: (db path, [trace ids])."""
    db = tmp_path / "viewer.db"
    async with open_runtime(Settings.from_env({**settings_env(), "DIONYSUS_DB_PATH": str(db)})) as runtime:
        await seed_if_empty(runtime)
        ids = [(await run_ooda_cycle(runtime, context)).trace_id for context in CONTEXTS]
    return db, ids


def serve(db, token: str | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    extra = {"DIONYSUS_HTTP_TOKEN": token} if token else {}
    proc = subprocess.Popen([sys.executable, "-m", "dionysus_mcp", "serve", "--transport", "http", "--port", str(port)],
                            env=env_for(db, **extra), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(base + "/health", timeout=2).status_code in (200, 401):
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start: " + proc.stderr.read().decode()[-2000:])


async def test_an_ooda_cycle_renders_its_phases_and_numbers(browser, stored_runs):
    db, (first, second) = stored_runs
    proc, base = serve(db)
    try:
        run = httpx.get(f"{base}/api/agents/traces/{first}").json()
        dom = dump_dom(browser, f"{base}/traces/{first}")
        assert 'id="failure"' not in dom
        assert re.findall(r'data-phase="([a-z]+)"', dom) == ["perception", "reasoning", "metacognition"]
        assert text_of(dom, 'data-k="total_tokens"') == f"{run['total_tokens']['total_tokens']:,}"
        assert text_of(dom, 'data-k="saved"') == f"{run['total_tokens']['pruned_tokens_saved']:,}"
        assert text_of(dom, 'data-k="steps"') == str(run["step_count"])
        assert 'data-status="success"' in dom and 'id="coherence"' in dom
        # Each phase's duration is its real one (it covers its steps), as the API gives it.
        for phase in run["sub_runs"]:
            row = re.search(rf'data-phase="{phase["agent_name"]}">(.*?)</tr>', dom, re.S).group(1)
            shown = unescape(re.findall(r"<td[^>]*>([^<]*)</td>", row)[-1])
            assert phase["duration_s"] * 1000 >= sum(s["duration_ms"] or 0 for s in phase["steps"]) > 0
            assert shown == (f"{phase['duration_s'] * 1000:.0f} ms" if phase["duration_s"] < 1 else f"{phase['duration_s']:.2f} s")
        # Sub-runs are nested in the manager's timeline, each under the step that delegated it.
        timeline = dom[dom.index('id="timeline"'):]
        assert [a for a in re.findall(r'data-agent="([a-z]+)"', timeline)] == ["perception", "reasoning", "metacognition"]
        first_step = run["steps"][1]
        assert f'data-tokens="{first_step["input_tokens"]}+{first_step["output_tokens"]}"' in timeline
        # Full observations are in the page, folded until asked for.
        longest = max((s["observations"] or "" for s in run["sub_runs"][0]["steps"]), key=len)
        assert unescape(longest.splitlines()[0]) in unescape(dom)

        listing = dump_dom(browser, f"{base}/traces")
        assert re.findall(r'data-trace="([^"]+)"', listing) == [second, first]

        diff = httpx.get(f"{base}/api/agents/traces/diff", params={"a": first, "b": second}).json()
        compared = dump_dom(browser, f"{base}/traces/{first}?diff={second}")
        assert text_of(compared, 'data-k="differing"') == str(diff["differing_steps"])
        assert text_of(compared, 'data-k="tokens_delta"') == f"{diff['tokens_delta']['total_tokens']:+,}"
    finally:
        proc.terminate()
        proc.wait(30)


TOKEN = "viewer-s3cret-token-0123456789"


async def test_with_a_token_the_viewer_asks_for_it_once(browser, stored_runs):
    db, (first, _) = stored_runs
    proc, base = serve(db, token=TOKEN)
    try:
        assert httpx.get(f"{base}/traces").status_code == 401
        assert httpx.get(f"{base}/traces", params={"token": "wrong"}).status_code == 401
        exchanged = httpx.get(f"{base}/traces/{first}", params={"token": TOKEN})
        assert exchanged.status_code == 303 and exchanged.headers["location"] == f"/traces/{first}"
        set_cookies = exchanged.headers.get_list("set-cookie")
        port = base.rsplit(":", 1)[1]
        # Two cookies, one value: the paths of the viewer and of the read-only REST API only.
        assert sorted(re.search(r"Path=([^;]+)", c).group(1) for c in set_cookies) == ["/api/agents", "/traces"]
        for cookie in set_cookies:
            assert cookie.startswith(f"dionysus_viewer_{port}=dvs_")
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
        value = exchanged.cookies.get(f"dionysus_viewer_{port}", path="/traces")
        assert exchanged.cookies.get(f"dionysus_viewer_{port}", path="/api/agents") == value
        assert value != TOKEN and TOKEN not in exchanged.headers.get("set-cookie", "")
        # The session opens the viewer and the read-only API, never /mcp, /health or a write.
        cookies = {f"dionysus_viewer_{port}": value}
        assert httpx.get(f"{base}/api/agents/traces", cookies=cookies).status_code == 200
        assert httpx.get(f"{base}/traces/{first}", cookies=cookies).status_code == 200
        assert httpx.post(f"{base}/mcp", json={}, cookies=cookies).status_code == 401
        assert httpx.get(f"{base}/mcp", cookies=cookies).status_code == 401
        assert httpx.get(f"{base}/health", cookies=cookies).status_code == 401
        for method in ("POST", "PUT", "DELETE", "PATCH"):  # the REST API's paths, but not a read
            assert httpx.request(method, f"{base}/api/agents/traces/{first}", cookies=cookies).status_code == 401, method
        assert httpx.get(f"{base}/api/agents/traces", headers={"Authorization": f"Bearer {value}"}).status_code == 401
        # Not from a page of another site or port (the browser says so in Sec-Fetch-Site).
        assert httpx.get(f"{base}/api/agents/traces", cookies=cookies, headers={"Sec-Fetch-Site": "same-site"}).status_code == 401
        # The old name with the token as its value opens nothing any more.
        assert httpx.get(f"{base}/api/agents/traces", cookies={"dionysus_token": TOKEN}).status_code == 401
        dom = dump_dom(browser, f"{base}/traces/{first}?token={TOKEN}")
        assert re.findall(r'data-phase="([a-z]+)"', dom) == ["perception", "reasoning", "metacognition"]
    finally:
        proc.terminate()
        proc.wait(30)


class CookieSpy:
    """Another web service on another port of the same host, recording the cookies it gets."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        spy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                spy.seen.append((self.path, self.headers.get("Cookie")))
                body = b"<!doctype html><title>another service</title><p>hello</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


async def test_another_port_gets_no_cookie_that_opens_mcp(browser, stored_runs, tmp_path):
    """Browsers send a host's cookies to all its ports: after the exchange, a service on another
    port receives the viewer's cookie — and its value is a viewer session, not the token."""
    db, (first, _) = stored_runs
    proc, base = serve(db, token=TOKEN)
    spy = CookieSpy()
    profile = str(tmp_path / "profile")
    try:
        dom = dump_dom(browser, f"{base}/traces/{first}?token={TOKEN}", profile)
        assert re.findall(r'data-phase="([a-z]+)"', dom) == ["perception", "reasoning", "metacognition"]
        for path in ("/", "/mcp", "/traces/x", "/api/agents/traces"):
            dump_dom(browser, spy.base + path, profile)
        received = {path: cookie for path, cookie in spy.seen if not path.startswith("/favicon")}
        # Only the viewer's paths carry it (Path=/traces, Path=/api/agents), on any port.
        assert received["/"] is None and received["/mcp"] is None
        values = [c.split("=", 1)[1] for path in ("/traces/x", "/api/agents/traces") for c in received[path].split("; ")]
        assert values and TOKEN not in " ".join(values)
        for value in set(values):
            assert httpx.post(f"{base}/mcp", json={}, headers={"Authorization": f"Bearer {value}"}).status_code == 401
            for name in (f"dionysus_viewer_{base.rsplit(':', 1)[1]}", "dionysus_token"):
                assert httpx.post(f"{base}/mcp", json={}, cookies={name: value}).status_code == 401
    finally:
        spy.server.shutdown()
        proc.terminate()
        proc.wait(30)


HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1"><b>bold</b>'


async def test_stored_text_is_shown_as_text_never_as_markup(browser, tmp_path):
    """A run's texts come from models and from what they read: the page shows them as text. Had
    one been inserted as HTML, its element would be in the DOM (the page's CSP would still stop
    the handler, so the element is what the test looks for)."""
    db = tmp_path / "hostile.db"
    async with open_runtime(Settings.from_env({**settings_env(), "DIONYSUS_DB_PATH": str(db)})) as runtime:
        tid = await runtime.traces.create_trace(f"agent {HOSTILE}", model="scripted", task=f"task {HOSTILE}")
        await runtime.traces.add_step(tid, {
            "step_number": 1, "step_type": "action", "observations": f"observed {HOSTILE}", "plan": f"plan {HOSTILE}",
            "error": f"error {HOSTILE}", "tool_calls": [{"id": "call-1", "name": "semantic_recall", "arguments": {"query": HOSTILE}}],
        })
        await runtime.traces.complete_trace(tid, "error", summary=f"summary {HOSTILE}", error=f"failed {HOSTILE}")
    proc, base = serve(db)
    try:
        for page in (f"{base}/traces/{tid}", f"{base}/traces"):
            dom = dump_dom(browser, page)
            assert "<img" not in dom and "<b>bold</b>" not in dom and "data-pwned" not in dom, page
            assert escape(HOSTILE, quote=False) in dom, page  # shown, as text
        dom = dump_dom(browser, f"{base}/traces/{tid}")
        for field in ("summary", "agent", "error", "failed", "plan", "observed"):  # each place the page writes text
            assert escape(f"{field} {HOSTILE}", quote=False) in dom, field
    finally:
        proc.terminate()
        proc.wait(30)


async def test_the_page_runs_under_its_hashes_and_names_a_malformed_address(browser, stored_runs):
    db, (first, _) = stored_runs
    proc, base = serve(db)
    try:
        page = httpx.get(f"{base}/traces")
        csp = page.headers["content-security-policy"]
        assert "'unsafe-inline'" not in csp and "script-src 'sha256-" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        dom = dump_dom(browser, f"{base}/traces/%E0%A4%A")
        assert "not valid percent-encoding" in text_of(dom, 'id="failure"') and "Loading…" not in dom
    finally:
        proc.terminate()
        proc.wait(30)


async def test_the_viewer_is_an_mcp_app_of_the_trace_and_run_tools(settings):
    async with Client(build_server(settings=settings)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        for name in ("get_trace", "list_traces", "diff_traces", "run_ooda_cycle", "run_heartbeat"):
            assert tools[name].meta["ui"]["resourceUri"] == VIEWER_URI, name
        page = await client.read_resource(VIEWER_URI)
        content = page.contents[0]
        assert content.mime_type == "text/html;profile=mcp-app" and content.text == viewer_html()
    # Self-contained: nothing is loaded from anywhere else.
    assert not re.search(r'(src|href)="(https?:)?//', viewer_html()) and "@import" not in viewer_html()


HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>test host</title></head><body>
<iframe id="view" sandbox="allow-scripts allow-same-origin" srcdoc="{srcdoc}"></iframe>
<div id="calls"></div><div id="mirror"></div>
<script>
// A minimal MCP Apps host: answers ui/initialize, hands the tool result over, serves tools/call
// from results a real MCP client received, and mirrors the view's DOM so --dump-dom shows it.
const TOOL_RESULT = {tool_result};
const TOOLS = {tools};
const frame = () => document.getElementById("view").contentWindow;
window.addEventListener("message", ev => {{
  const m = ev.data || {{}};
  if (m.method === "ui/initialize") {{
    frame().postMessage({{jsonrpc: "2.0", id: m.id, result: {{protocolVersion: m.params.protocolVersion,
      hostInfo: {{name: "test-host", version: "1"}}, hostCapabilities: {{}}, hostContext: {{}}}}}}, "*");
  }} else if (m.method === "ui/notifications/initialized") {{
    frame().postMessage({{jsonrpc: "2.0", method: "ui/notifications/tool-result", params: TOOL_RESULT}}, "*");
  }} else if (m.method === "tools/call") {{
    const line = document.createElement("p"); line.className = "call";
    line.textContent = m.params.name + " " + JSON.stringify(m.params.arguments);
    document.getElementById("calls").appendChild(line);
    frame().postMessage({{jsonrpc: "2.0", id: m.id, result: TOOLS[m.params.name]}}, "*");
  }}
}});
setInterval(() => {{
  const doc = document.getElementById("view").contentDocument;
  if (doc && doc.getElementById("timeline")) document.getElementById("mirror").innerHTML = doc.getElementById("app").innerHTML;
}}, 50);
</script></body></html>"""


def script_json(value) -> str:
    return json.dumps(value).replace("</", "<\\/")


async def app_in_a_host(settings):
    """A real run, and the MCP App's page in a host page that hands it the run tool's result and
    answers its get_trace call: (the run's result, the full trace, the host page)."""
    async with open_runtime(settings) as runtime:
        await seed_if_empty(runtime)
    async with Client(build_server(settings=settings)) as client:
        view = (await client.read_resource(VIEWER_URI)).contents[0].text
        ran = await client.call_tool("run_ooda_cycle", {"context": CONTEXTS[0]})
        full = await client.call_tool("get_trace", {"trace_id": ran.structured_content["trace_id"], "detail": "full"})
    as_wire = lambda r: {"content": [{"type": "text", "text": c.text} for c in r.content],  # noqa: E731
                         "structuredContent": r.structured_content, "isError": r.is_error}
    page = HOST_PAGE.format(srcdoc=escape(view, quote=True), tool_result=script_json(as_wire(ran)),
                            tools=script_json({"get_trace": as_wire(full)}))
    return ran, full, page


def shown_in_host(browser, tmp_path, page: str) -> tuple[list[str], str]:
    """The host page rendered in chromium: the calls the view made, and the part it mirrored."""
    host = tmp_path / "host.html"
    host.write_text(page, encoding="utf-8")
    dom = dump_dom(browser, host.as_uri())
    calls = [unescape(c) for c in re.findall(r'<p class="call">([^<]*)</p>', dom)]
    return calls, dom[dom.index('id="mirror"'):]


async def test_the_mcp_app_renders_a_run_tool_result_in_a_host(browser, settings, tmp_path):
    ran, full, page = await app_in_a_host(settings)
    calls, mirror = shown_in_host(browser, tmp_path, page)
    assert calls == [f'get_trace {{"trace_id":"{ran.structured_content["trace_id"]}","detail":"full"}}']
    assert re.findall(r'data-phase="([a-z]+)"', mirror) == ["perception", "reasoning", "metacognition"]
    total = full.structured_content["total_tokens"]["total_tokens"]
    assert text_of(mirror, 'data-k="total_tokens"') == f"{total:,}"


SIBLING = """<script>
// Another frame of the same host page (another app, an ad): it posts to the view what the host
// would, a tool result naming another run and answers to the view's pending calls.
const forged = {jsonrpc: "2.0", method: "ui/notifications/tool-result", params: {structuredContent: {trace_id: "forged-trace"}}};
setInterval(() => {
  const target = parent.frames[0];
  target.postMessage(forged, "*");
  for (let id = 1; id <= 6; id++)
    target.postMessage({jsonrpc: "2.0", id, result: {isError: false, content: [], structuredContent: FORGED_RUN}}, "*");
}, 100);
</script>"""


async def test_a_sibling_frame_cannot_drive_the_mcp_app(browser, settings, tmp_path):
    ran, full, page = await app_in_a_host(settings)
    forged_run = {**full.structured_content, "agent_name": "FORGED", "sub_runs": [], "summary": "FORGED"}
    sibling = SIBLING.replace("FORGED_RUN", script_json(forged_run))
    # The sibling comes after the view: parent.frames[0] is the view.
    page = page.replace('<div id="calls">', f'<iframe id="sibling" sandbox="allow-scripts" srcdoc="{escape(sibling, quote=True)}"></iframe><div id="calls">')
    calls, mirror = shown_in_host(browser, tmp_path, page)
    assert calls == [f'get_trace {{"trace_id":"{ran.structured_content["trace_id"]}","detail":"full"}}']
    assert re.findall(r'data-phase="([a-z]+)"', mirror) == ["perception", "reasoning", "metacognition"]
    assert "FORGED" not in mirror and "forged-trace" not in mirror
