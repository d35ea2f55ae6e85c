"""Settings are one model (dionysus_mcp/config.py) and the docs are generated from it: every
variable the code reads is in `--help` and in the README's table, as sqlite-utils tests its
docs; the table is current; a value we cannot use is one line naming the variable."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from dionysus_mcp.config import ConfigError, Settings
from dionysus_mcp.settings_docs import readme_table, variables
from dionysus_mcp.surface.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("dionysus_mcp", "agents", "callbacks", "schema")
VARIABLE = re.compile(r"\b(?:DIONYSUS|NEO4J|OPENAI|AGENT|OTEL)_[A-Z][A-Z0-9_]*\b")


def _sources() -> list[Path]:
    return [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]


def read_by_the_code() -> set[str]:
    """Every environment-variable-like name in the package, less the Python names it defines
    (NEO4J_SCHEMES is a constant, not a variable)."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in _sources())
    defined = set(re.findall(r"^\s*([A-Z][A-Z0-9_]*)\s*(?::[^=\n]*)?=", text, re.M))
    return set(VARIABLE.findall(text)) - defined


def test_every_variable_the_code_reads_is_in_help_and_in_the_readme():
    read = read_by_the_code()
    assert {"DIONYSUS_DB_PATH", "AGENT_MEMORY_WINDOW", "OTEL_EXPORTER_OTLP_ENDPOINT", "OPENAI_API_KEY"} <= read
    documented = set(variables())
    assert read - documented == set(), "read by the code, not in the settings model (dionysus_mcp/config.py)"
    help_text = build_parser().format_help()
    readme = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    for name in documented:
        assert re.search(rf"^  {name}\n", help_text, re.M), f"{name} is not in --help"
        assert f"| `{name}` |" in readme, f"{name} is not in the README's table"


def test_the_scan_sees_a_variable_that_is_read_but_undocumented(tmp_path, monkeypatch):
    planted = tmp_path / "dionysus_mcp" / "planted.py"
    planted.parent.mkdir()
    planted.write_text('import os\nLIMIT = os.environ.get("DIONYSUS_UNDOCUMENTED_KNOB")\nNEO4J_THING = 1\n')
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert read_by_the_code() - set(variables()) == {"DIONYSUS_UNDOCUMENTED_KNOB"}


def test_the_readme_table_is_the_one_the_model_generates():
    readme = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    assert readme_table() in readme, "README.md's configuration table is stale: run scripts/docs_tables.py"
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "docs_tables.py"), "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_help_gives_each_default_once_from_the_model():
    help_text = build_parser().format_help()
    assert "  AGENT_MEMORY_WINDOW\n      agent steps whose observations are never pruned (default 3)\n" in help_text
    assert "  DIONYSUS_MODEL_TIMEOUT\n      seconds one model request may take (default 60)\n" in help_text
    defaults = Settings.from_env({"DIONYSUS_DB_PATH": "/x/d.db"})
    for field, info in Settings.model_fields.items():
        if info.default is not None:
            assert getattr(defaults, field) == info.default, field


@pytest.mark.parametrize(("env", "message"), [
    ({"AGENT_MEMORY_WINDOW": "3.7"}, "AGENT_MEMORY_WINDOW='3.7' is not a whole number"),
    ({"AGENT_MEMORY_WINDOW": "0"}, "AGENT_MEMORY_WINDOW='0' must be between 1 and 1000"),
    ({"DIONYSUS_BASIN_HALF_LIFE": "soon"}, "DIONYSUS_BASIN_HALF_LIFE='soon' is not a number"),
    ({"DIONYSUS_LOG_LEVEL": "loud"}, "DIONYSUS_LOG_LEVEL='LOUD' must be DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    ({"DIONYSUS_EMBEDDER": " Bert "}, "DIONYSUS_EMBEDDER='bert' must be minilm, wordllama or none"),
    ({"DIONYSUS_HTTP_MAX_CONNECTIONS": "7"}, "DIONYSUS_HTTP_MAX_CONNECTIONS='7' must be between 8 and 1000000"),
    ({"DIONYSUS_CODE_STEP_TIMEOUT": "26"}, "DIONYSUS_CODE_STEP_TIMEOUT='26' must be between 0.1 and 25.0"),
])
def test_a_value_we_cannot_use_is_one_line_naming_the_variable(env, message):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert str(refused.value) == message


def test_the_window_is_a_whole_number_and_empty_values_are_unset():
    assert Settings.from_env({"AGENT_MEMORY_WINDOW": "4"}).memory_window == 4
    assert Settings.from_env({"AGENT_MEMORY_WINDOW": "4.0"}).memory_window == 4  # a whole number written as one
    settings = Settings.from_env({"AGENT_MEMORY_WINDOW": "", "NEO4J_USERNAME": "", "DIONYSUS_LOG_LEVEL": ""})
    assert (settings.memory_window, settings.neo4j_username, settings.log_level) == (3, "neo4j", "WARNING")
    assert Settings.from_env({"DIONYSUS_TRACE_RETENTION_DAYS": "0"}).trace_retention_days is None
    assert Settings.from_env({"DIONYSUS_TRACE_RETENTION_DAYS": "0.5"}).trace_retention_days == 0.5


def test_a_copy_with_changes_is_checked_like_the_environment():
    settings = Settings.from_env({"DIONYSUS_DB_PATH": "/x/d.db", "NEO4J_PASSWORD": "hunter22hunter"})
    changed = settings.replace(model="openai:m", model_retries=0)
    assert (changed.model, changed.model_retries, changed.db_path) == ("openai:m", 0, Path("/x/d.db"))
    assert changed.neo4j_password.get_secret_value() == "hunter22hunter"
    assert "hunter22" not in repr(changed)
    with pytest.raises(ValueError):
        settings.replace(model_retries=11)
