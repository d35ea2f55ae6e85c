"""The map is whole: docs/ARCHITECTURE.md names every module with one line on its job, and no two
modules share a file name for different jobs (callbacks/digest.py beside traces/digest.py was
one reader's hour lost)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("dionysus_mcp", "agents", "callbacks", "schema")
# File names several modules share because they do the same job in another place; any other
# shared name fails the test below (rename one of them with `git mv`).
SAME_JOB = {
    "basins.py": "the basins: the service (cognition/) and its aggregate on each backend (store/sqlite/, store/neo4j/)",
    "wisdom.py": "the principles: the service and its aggregate on each backend",
    "memories.py": "the memories aggregate on each backend",
    "memory_search.py": "recall's candidate search on each backend",
    "connection.py": "each backend's connection",
    "traces.py": "the traces aggregate on each backend",
    "trace_writes.py": "typed trace writes: the records (schema/) and their statements on each backend",
    "trace_removal.py": "trace deletion on each backend",
    "trace_lifecycle.py": "the trace lifecycle on each backend",
    "inputs.py": "the operations' input models: their base (dionysus_mcp/) and each layer's operations",
    "models.py": "pydantic records of a layer (schema/, traces/) and the agents' smolagents Models (agents/)",
    "base.py": "a package's base classes (the store's protocols, the agents' two classes)",
    "prompts.py": "prompt templates: the agents' (agents/) and the MCP prompts (surface/)",
    "heartbeat.py": "a role: its agent (agents/) and its scripted policy (agents/scripts/)",
    "perception.py": "a role: its agent and its scripted policy",
    "reasoning.py": "a role: its agent and its scripted policy",
    "metacognition.py": "a role: its agent and its scripted policy",
    "manager.py": "a role: its agent and its scripted policy",
}


def modules() -> set[str]:
    return {str(p.relative_to(ROOT)) for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def the_map() -> dict[str, str]:
    text = ROOT.joinpath("docs", "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("\n## Every module\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([\w/]+\.py)` \| (.*?) \|$", section, re.M)
    listed: dict[str, str] = {}
    for path, job in rows:
        assert path not in listed, f"{path} is listed twice"
        listed[path] = job.strip()
    return listed


def test_every_module_is_on_the_map_with_its_job():
    listed = the_map()
    assert sorted(modules() - set(listed)) == [], "modules missing from docs/ARCHITECTURE.md, 'Every module'"
    assert sorted(set(listed) - modules()) == [], "docs/ARCHITECTURE.md lists modules that are gone"
    for path, job in listed.items():
        assert len(job.split()) >= 3, f"{path}: say what its job is"


def test_no_two_modules_share_a_name_for_different_jobs():
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in modules():
        if not path.endswith("__init__.py"):
            by_name[Path(path).name].append(path)
    shared = {name for name, paths in by_name.items() if len(paths) > 1}
    assert sorted(shared - set(SAME_JOB)) == [], "modules sharing a name: rename one, or say here why it is one job"
    assert sorted(set(SAME_JOB) - shared) == [], "SAME_JOB names a file no longer shared"


def test_the_readme_lists_each_command_once():
    readme = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    block = readme.split("\n## The command line\n", 1)[1].split("```", 2)[1]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.startswith("dionysus-mcp ")]
    assert len(commands) > 10 and len(commands) == len(set(commands)), commands
