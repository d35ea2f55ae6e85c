"""The second layer holds on its own: model code that got past the guard finds nothing.

A test-only switch (`SandboxOptions(escape_hatch=True)`, settable only from Python in the server
process; no setting or environment variable reads it) hands the child's code `os` and `open` —
as if the guard had missed a path. The server is a process of its own here
(tests/escape_probe.py), started with NEO4J_PASSWORD, OPENAI_API_KEY and DIONYSUS_HTTP_TOKEN in
its environment block and its SQLite store open. From the child, the code tries to read those
secrets (its own environment, the server's /proc files), to read, overwrite, append to and remove
the store file, to create a file, and to signal the server. Every try must fail, with each OS
layer alone: Landlock alone (the child stays root), the switch to `nobody` alone, and both.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from agents.sandbox.confine import landlock_abi

ROOT_DIR = Path(__file__).resolve().parents[2]
SECRETS = {
    "NEO4J_PASSWORD": "neo4j-escape-Pa55word-0123456789",
    "OPENAI_API_KEY": "sk-escape-key-that-must-not-leak-0123",
    "DIONYSUS_HTTP_TOKEN": "http-escape-token-that-must-not-leak",
}
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def layers_available(layers: str) -> str | None:
    """Why this combination cannot be shown on this machine (None: it can)."""
    if not sys.platform.startswith("linux"):
        return "the OS layers shown here are Linux's (README: what macOS and Windows get)"
    if layers in ("all", "landlock") and landlock_abi() < 6:
        return f"Landlock ABI {landlock_abi()}: signal scoping needs ABI 6 (Linux 6.12)"
    if layers in ("all", "user") and not IS_ROOT:
        return "the switch to nobody needs a server running as root"
    return None


@pytest.mark.parametrize("layers", ["all", "landlock", "user"])
def test_code_with_os_and_open_still_reaches_no_secret_no_store_and_no_server(tmp_path, layers):
    reason = layers_available(layers)
    if reason and not os.environ.get("CI"):
        pytest.skip(reason)
    assert reason is None, f"CI must show every layer: {reason}"
    db = tmp_path / "store.db"
    shared = Path(tempfile.mkdtemp(prefix="dionysus-escape-"))  # world-writable, like /tmp itself
    shared.chmod(0o1777)
    new = shared / "escape-probe"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DIONYSUS_DB_PATH": str(db),
        "DIONYSUS_EMBEDDER": "none",
        **SECRETS,
    }
    try:
        check_escape(db, layers, env, new)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def check_escape(db: Path, layers: str, env: dict[str, str], new: Path) -> None:
    server = subprocess.run(
        [sys.executable, str(ROOT_DIR / "tests" / "escape_probe.py"), str(db), layers, str(new)],
        cwd=ROOT_DIR, env=env, capture_output=True, timeout=300,
    )
    assert server.returncode == 0, server.stderr.decode()[-2000:]  # the server was not signalled away
    results = json.loads(server.stdout)
    everything = server.stdout.decode()
    assert not [name for name, value in SECRETS.items() if value in everything], everything

    confinement = results.pop("confinement")[1]
    if layers in ("all", "landlock"):
        assert f"landlock:{landlock_abi()}" in confinement
    if layers in ("all", "user"):
        assert "user" in confinement
    # The code ran with `os` and `open` (the hatch is open): its own environment is empty (but
    # for the locale Python itself sets, PEP 538)...
    kind, shown = results.pop("environment")
    assert kind == "ran" and set(ast.literal_eval(ast.literal_eval(shown))) <= {"LC_CTYPE"}
    # ...and every way out was refused by the OS, not by the guard.
    for probe, (kind, detail) in results.items():
        if layers == "user" and probe == "new file":
            # Without Landlock, nobody may create a file where anyone may (here, like /tmp), but
            # RLIMIT_FSIZE=0 lets it hold nothing (the buffered write fails when the file is
            # closed, after the step): README, "what does not hold".
            assert new.read_bytes() == b"", detail
            continue
        assert kind == "error", f"{probe} ran: {detail}"
        assert "PermissionError" in detail or "Operation not permitted" in detail, f"{probe}: {detail}"
    assert layers == "user" or not new.exists()
    with open(db, "rb") as f:
        assert b"overwritten" not in f.read()


def test_the_escape_hatch_is_not_reachable_from_configuration():
    """No setting or environment variable turns it on: only a SandboxOptions built in Python."""
    from agents import safe_executor
    from agents.sandbox import launcher

    for module in (safe_executor, launcher):
        source = Path(module.__file__).read_text()
        assert "os.environ" not in source.replace("os.environ.items() if k.upper() == \"SYSTEMROOT\"", "")
    assert launcher.SandboxOptions().escape_hatch is False
    config = (ROOT_DIR / "dionysus_mcp" / "config.py").read_text()
    assert "escape" not in config.lower()
