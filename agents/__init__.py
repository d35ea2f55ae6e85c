"""The agent team: smolagents agents over the cognition services.

Public API (agents/runner.py): `run_ooda_cycle(runtime, context, max_steps=None, progress=None)`
and `run_heartbeat(runtime, progress=None)`; `agents.demo.run_demo(runtime, write=print)`.
Importing this package stays light: smolagents loads with the modules that need it.
"""
