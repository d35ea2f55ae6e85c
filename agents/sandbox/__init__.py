"""The child process the ConsciousnessManager's code runs in (driven by agents/safe_executor.py).

- launcher.py — starts, talks to and ends a child (server side);
- forkserver.py, zygote.py — the warm fork server that forks a fresh child per run (server side,
  child side);
- replies.py — what the server answers to a call and makes of a step's last message (server side);
- channel.py — the JSON-lines channel and the caps on what crosses it (both sides);
- child.py — the child's entry point and bootstrap (child side);
- confine.py — the OS limits the child sets on itself before it reads code (child side);
- interpreter.py — smolagents' local executor behind the guard of agents/code_guard.py (child side).
The child-side modules import only the standard library, smolagents' local_python_executor and
each other: the child loads them by file path, never through this package.
"""
