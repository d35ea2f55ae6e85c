"""Layers flow one way: surface → agents → callbacks → services → store → schema.

Every import in the package — including the lazy ones inside functions — is read from the
source, so a layer that reaches upward fails here whatever the import style.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package prefix -> prefixes it must never import
FORBIDDEN = {
    "schema": ("dionysus_mcp", "agents", "callbacks"),
    "dionysus_mcp.store": ("dionysus_mcp.surface", "dionysus_mcp.cognition", "dionysus_mcp.traces",
                           "dionysus_mcp.runtime", "agents", "callbacks"),
    "dionysus_mcp.cognition": ("dionysus_mcp.surface", "dionysus_mcp.runtime", "agents", "callbacks"),
    "dionysus_mcp.traces": ("dionysus_mcp.surface", "dionysus_mcp.runtime", "agents", "callbacks"),
    "dionysus_mcp.runtime": ("dionysus_mcp.surface", "agents", "callbacks"),
    "dionysus_mcp.config": ("dionysus_mcp.surface", "agents", "callbacks"),
    "dionysus_mcp.errors": ("dionysus_mcp.surface", "agents", "callbacks"),
    # The operations' shared base: below every layer that declares operations.
    "dionysus_mcp.inputs": ("dionysus_mcp.surface", "dionysus_mcp.runtime", "dionysus_mcp.cognition",
                            "dionysus_mcp.traces", "dionysus_mcp.store", "agents", "callbacks"),
    "dionysus_mcp.settings_docs": ("dionysus_mcp.surface", "agents", "callbacks"),
    "dionysus_mcp.secrets": ("dionysus_mcp.surface", "agents", "callbacks"),
    "dionysus_mcp.tokenizer": ("dionysus_mcp.surface", "agents", "callbacks"),
    "dionysus_mcp.warm_up": ("dionysus_mcp", "agents", "callbacks"),  # knows only the loads it is given
    "dionysus_mcp.changes": ("dionysus_mcp", "agents", "callbacks"),  # services publish, the surface listens
    "callbacks": ("dionysus_mcp.surface", "agents"),
    "agents": ("dionysus_mcp.surface",),
}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for top in ("dionysus_mcp", "agents", "callbacks", "schema"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found.append((name, path))
    return found


def _imports(path: Path, module: str) -> set[str]:
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _rules(module: str) -> tuple[str, ...]:
    return tuple(bad for layer, bads in FORBIDDEN.items() if _within(module, layer) for bad in bads)


@pytest.mark.parametrize(("module", "path"), _modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_no_module_imports_a_layer_above_it(module: str, path: Path) -> None:
    upward = sorted(
        name for name in _imports(path, module) for bad in _rules(module) if _within(name, bad)
    )
    assert not upward, f"{module} imports {upward}: layers flow surface → agents → callbacks → services → store"


def test_the_rules_see_a_planted_upward_import(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from dionysus_mcp.surface.server import build_server\n")
    assert any(_within(n, "dionysus_mcp.surface") for n in _imports(planted, "dionysus_mcp.cognition.planted"))
    assert "dionysus_mcp.surface" in _rules("dionysus_mcp.cognition.planted")
