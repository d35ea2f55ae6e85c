"""The trace viewer: one self-contained HTML page (trace_viewer.html, no external resource),
served over HTTP at /traces and /traces/{id} and as the MCP App resource VIEWER_URI that the
trace and run tools point at (`_meta.ui.resourceUri`, extension `io.modelcontextprotocol/ui`)."""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import re
from functools import lru_cache
from typing import Any

VIEWER_URI = "ui://dionysus/trace-viewer.html"
# What a tool carries to say "render my result with the viewer" (what mcp.server.apps.Apps.tool
# stamps; set by hand here because the tools are registered by the usual decorators).
VIEWER_META: dict[str, Any] = {"ui": {"resourceUri": VIEWER_URI}}


@lru_cache(maxsize=1)
def viewer_html() -> str:
    return (importlib.resources.files(__package__) / "trace_viewer.html").read_text(encoding="utf-8")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


@lru_cache(maxsize=1)
def viewer_csp() -> str:
    """The page's Content-Security-Policy over HTTP: its one inline script and one style block
    run by their hashes (no 'unsafe-inline'); it talks to its own server only and may not be
    framed. The page sets no style attribute (CSP would block one): widths go through CSSOM."""
    html = viewer_html()
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    styles = re.findall(r"<style>(.*?)</style>", html, re.S)
    return (
        f"default-src 'none'; script-src {' '.join(map(_hash, scripts))}; style-src {' '.join(map(_hash, styles))};"
        " connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def apps_extension() -> Any:
    """The MCP Apps extension carrying the viewer resource (mcp.server.apps, mcp 2.3)."""
    from mcp.server.apps import Apps

    apps = Apps()
    apps.add_html_resource(
        VIEWER_URI, viewer_html(), name="trace-viewer", title="Trace viewer",
        description="A run as a timeline: steps, delegated sub-runs, tokens, basins, coherence, errors.",
        prefers_border=True,
    )
    return apps
