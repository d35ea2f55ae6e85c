"""The surface: MCP tools by area, the HTTP app (REST + streamable MCP) and the command line.

It validates, calls the services of `dionysus_mcp.runtime.Runtime` (or the agents' runner) and
shapes results. Nothing in the domain (`cognition`, `traces`, `store`, `agents`, `callbacks`)
imports from here.
"""
