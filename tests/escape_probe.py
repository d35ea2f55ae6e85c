"""A server stand-in for tests/integration/test_manager_sandbox_escape.py, run as its own process
so that the secrets sit in its real environment block (what /proc/<pid>/environ shows), its store
is open, and it can be signalled.

It opens the runtime on the SQLite file given, starts the manager's executor with the test-only
escape hatch (the code gets `os` and `open`) and the layers asked for, runs each probe as a code
step, and prints {probe: ["ran", output] | ["error", message]} as JSON.

    python tests/escape_probe.py DB_PATH all|landlock|user NEW_FILE_IN_A_WORLD_WRITABLE_DIR
"""

from __future__ import annotations

import json
import sys

import anyio


PROBES = {
    "environment": "str(dict(os.environ))",
    "server environ": "open('/proc/%d/environ' % os.getppid(), 'rb').read()",
    "server memory": "open('/proc/%d/mem' % os.getppid(), 'rb').read(16)",
    "store read": "open(DB, 'rb').read(64)",
    "store write": "f = open(DB, 'r+b')\nf.write(b'overwritten')\nf.close()",
    "store append": "open(DB, 'ab').write(b'appended')",
    "store remove": "os.remove(DB)",
    "new file": "open(NEW, 'w').write('x')",
    "signal server": "os.kill(os.getppid(), 15)",
    "signal server 0": "os.kill(os.getppid(), 0)",
}


async def main(db: str, layers: str, new: str) -> dict[str, list]:
    from agents.safe_executor import SafeExecutor
    from agents.sandbox.launcher import SandboxOptions
    from dionysus_mcp.config import Settings
    from dionysus_mcp.runtime import open_runtime

    options = {
        "all": SandboxOptions(escape_hatch=True),
        "landlock": SandboxOptions(escape_hatch=True, drop_user=False),
        "user": SandboxOptions(escape_hatch=True, landlock=False),
    }[layers]
    results: dict[str, list] = {}
    async with open_runtime(Settings.from_env()) as runtime:
        await runtime.basins.upsert_basin("focus")  # the store is open and written
        ex = SafeExecutor(step_seconds=10.0, options=options)
        try:
            ex.send_variables({"DB": db, "NEW": new})
            results["confinement"] = ["ran", ex.confinement]
            for name, code in PROBES.items():
                try:
                    output = await anyio.to_thread.run_sync(ex, code)
                    results[name] = ["ran", repr(output.output)]
                except Exception as exc:  # noqa: BLE001 - each probe's outcome is reported
                    results[name] = ["error", str(exc)]
        finally:
            ex.close()
    return results


if __name__ == "__main__":
    print(json.dumps(anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3])))
