"""Liveness of a trace's owner, decided against real processes of this machine."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from dionysus_mcp.traces.owner import ProcessIdentity, owner_gone, process_token

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
me = ProcessIdentity.current()
linux = pytest.mark.skipif(not me.token.startswith("linux:"), reason="start identities are read from /proc")


@linux
def test_same_machine_a_live_process_is_alive_however_old_its_lease():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        token = process_token(child.pid)
        owner = replace(me, pid=child.pid, token=token).owner(NOW - timedelta(hours=1))  # lease long expired
        assert not owner_gone(owner, NOW - timedelta(hours=2), me, NOW)
        # The same pid with another start identity is a reused pid: its owner is gone.
        reused = owner.model_copy(update={"token": token.rsplit(":", 1)[0] + ":1"})
        assert owner_gone(reused, NOW, me, NOW)
    finally:
        child.kill()
        child.wait()
    assert owner_gone(owner, NOW, me, NOW)  # the process no longer exists


def test_my_own_runs_are_alive_and_other_machines_are_judged_by_the_lease():
    assert not owner_gone(me.owner(NOW - timedelta(hours=1)), NOW - timedelta(hours=2), me, NOW)
    other = ProcessIdentity("another-host", 1234, "random:abc")
    assert not owner_gone(other.owner(NOW, lease_s=60), NOW, me, NOW + timedelta(seconds=59))
    assert owner_gone(other.owner(NOW, lease_s=60), NOW, me, NOW + timedelta(seconds=61))
    # Same host name but another pid namespace (a container sharing the file): lease as well.
    container = replace(me, pid=1, token="linux:other-boot:pid:[1]:5")
    assert not owner_gone(container.owner(NOW), NOW, me, NOW + timedelta(seconds=30))


def test_a_run_without_owner_counts_as_gone_after_one_lease():
    assert not owner_gone(None, NOW, me, NOW + timedelta(seconds=30), lease_s=60)
    assert owner_gone(None, NOW, me, NOW + timedelta(seconds=61), lease_s=60)
