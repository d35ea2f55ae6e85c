"""The replay narrative rendered as CommonMark (markdown-it-py's CommonMark preset, raw HTML on,
as a client would render it): stored text shows as text and never becomes markup — no tag, link
or image from a task, plan, code, tool argument, observation, error, answer or name."""

from __future__ import annotations

from html.parser import HTMLParser

from markdown_it import MarkdownIt

from schema.models import ToolCallRecord

HOSTILE = {
    "task": "<script>alert('task')</script> [click](javascript:alert(1)) ![x](http://evil.example/p.png) "
            "<http://evil.example/auto> \\<img src=x onerror=alert(0)> &lt;b&gt;",
    "plan": "look first\n<div onclick=alert(1)>plan</div>\n```\n<b>after a fence</b>\n[ref]: http://evil.example",
    "code": "print(1)\n```\n<script>alert('code')</script>\n````\nx = '`'",
    "argument": "<img src=x onerror=alert(2)> `tick` [a](http://evil.example)",
    "observation": "</blockquote><script>alert(3)</script>\n\n<iframe src=javascript:alert(4)></iframe>",
    "error": "ValueError: <iframe src=javascript:alert(5)>\n<script>x</script>",
    "answer": "&#60;script&#62;alert(6)&#60;/script&#62; <a href='javascript:alert(7)'>go</a>",
    "basin": "`</code><script>alert(8)</script>`",
    "agent": "evil<b onmouseover=alert(9)>agent</b>",
    "summary": "<svg onload=alert(10)>done",
}
BLOCK_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "blockquote", "pre", "code", "strong", "em", "hr", "br"}


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


async def hostile_run(runtime) -> str:
    traces = runtime.traces
    basin = await runtime.basins.upsert_basin(HOSTILE["basin"], keywords=["sleep"])
    root = await traces.create_trace("ConsciousnessManager", model="scripted", task=HOSTILE["task"])
    await traces.add_step(root, {"step_number": 1, "step_type": "planning", "plan": HOSTILE["plan"]})
    await traces.add_step(root, {"step_number": 1, "step_type": "action", "code_action": HOSTILE["code"],
                                 "observations": HOSTILE["observation"], "error": HOSTILE["error"]})
    child = await traces.create_trace(HOSTILE["agent"], parent_id=root, parent_step=1, model="scripted")
    await traces.add_step(child, {"step_number": 1, "step_type": "action", "tool_calls": [
        ToolCallRecord(id="c1", name="semantic_recall", arguments={"query": HOSTILE["argument"]})]})
    await traces.add_step(child, {"step_number": 1, "step_type": "final_answer", "final_answer": HOSTILE["answer"]})
    await traces.link_basin(child, basin.id, 0.5, 1, basin_name=HOSTILE["basin"])
    await traces.complete_trace(child, "success", summary="fine")
    await traces.complete_trace(root, "success", summary=HOSTILE["summary"])
    return root


async def test_stored_html_renders_as_text(runtime):
    markdown = await runtime.traces.replay(await hostile_run(runtime))
    page = Page()
    page.feed(MarkdownIt("commonmark").render(markdown))  # the CommonMark preset renders raw HTML
    assert {tag for tag, _ in page.tags} <= BLOCK_TAGS, {tag for tag, _ in page.tags} - BLOCK_TAGS
    assert all(not attrs or tag == "code" for tag, attrs in page.tags)  # a fence's language class only
    shown = "".join(page.text)
    for what in ("plan", "code", "argument", "observation", "error", "basin", "summary"):
        for line in HOSTILE[what].splitlines():
            assert line.strip() in shown, (what, line)
    assert HOSTILE["task"].replace("  ", " ") in shown and HOSTILE["answer"] in shown
    assert "evil<b onmouseover=alert(9)>agent</b> — success" in shown


async def test_a_plain_run_reads_as_before(runtime):
    """Escaping touches only markup characters: ordinary text is written as stored."""
    traces = runtime.traces
    root = await traces.create_trace("HeartbeatAgent", model="scripted", task="Check in on the day.")
    await traces.add_step(root, {"step_number": 1, "step_type": "action", "tool_calls": [
        ToolCallRecord(id="c1", name="semantic_recall", arguments={"query": "sleep, focus"})],
        "observations": "Coherence 62.0% — stable (3 basins active)."})
    await traces.complete_trace(root, "success", summary="All quiet: rest early.")
    markdown = await traces.replay(root)
    assert '- called `semantic_recall`(query="sleep, focus")' in markdown
    assert "> Coherence 62.0% — stable (3 basins active)." in markdown and "> All quiet: rest early." in markdown
