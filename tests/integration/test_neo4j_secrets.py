"""The Neo4j password never shows in what the store says: its errors, its URI, its repr.

Against the real Bolt server where a server is needed. The password reaches an error message
in two real ways: the driver echoes the NEO4J_URI it was given (with `user:password@` in it),
and the resolver echoes the address it could not resolve (a password pasted where the port
goes). Neither the URI masking nor the password masking alone covers both.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from dionysus_mcp.store.base import StoreError
from dionysus_mcp.store.neo4j import Neo4jStore

SECRET = "Sup3r-Secret-Pw-42"


async def test_a_wrong_password_is_one_clear_error_without_it(bolt_server):
    store = Neo4jStore(bolt_server.uri, bolt_server.user, SECRET, bolt_server.database, connection_timeout=10)
    with pytest.raises(StoreError, match="rejected the credentials of user") as caught:
        await store.open()
    assert SECRET not in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_credentials_in_the_uri_never_show(bolt_server):
    host = bolt_server.uri.removeprefix("bolt://")
    store = Neo4jStore(f"bolt://{bolt_server.user}:{SECRET}@{host}", bolt_server.user, SECRET, bolt_server.database)
    assert store.uri == f"bolt://{host}"
    assert SECRET not in repr(store) and SECRET not in await store.describe()
    with pytest.raises(StoreError, match=f"cannot use NEO4J_URI 'bolt://{host}'") as caught:
        await store.open()
    assert SECRET not in str(caught.value)


async def test_a_password_where_the_port_goes_is_masked():
    # The resolver's message names "127.0.0.1:<password>" but not the whole URI: only the
    # password masking catches it.
    store = Neo4jStore(f"bolt://127.0.0.1:{SECRET}", "neo4j", SECRET, "neo4j", connection_timeout=2)
    with pytest.raises(StoreError, match="cannot use NEO4J_URI") as caught:
        await store.open()
    assert SECRET not in str(caught.value) and "***" in str(caught.value)


@pytest.mark.parametrize("uri", [f"bolt://127.0.0.1:{SECRET}", f"bolt://neo4j:{SECRET}@127.0.0.1:7687"])
def test_the_cli_names_a_bad_uri_in_one_line_without_the_password(tmp_path, uri):
    import os

    env = {**os.environ, "DIONYSUS_DB_PATH": str(tmp_path / "unused.db"), "DIONYSUS_LOG_LEVEL": "WARNING",
           "NEO4J_URI": uri, "NEO4J_PASSWORD": SECRET}
    proc = subprocess.run([sys.executable, "-m", "dionysus_mcp", "traces", "list"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("dionysus-mcp: cannot use NEO4J_URI")
    assert SECRET not in proc.stderr and SECRET not in proc.stdout
