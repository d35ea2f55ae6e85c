"""Rewrite the README's configuration table from the settings model (dionysus_mcp/config.py).

    .venv/bin/python scripts/docs_tables.py          # write README.md
    .venv/bin/python scripts/docs_tables.py --check  # exit 1 when README.md differs

tests/unit/test_settings_docs.py runs the check; `dionysus-mcp --help` builds its environment
section from the same model at run time.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dionysus_mcp.settings_docs import BEGIN, END, readme_table  # noqa: E402


def rewritten(readme: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(readme):
        raise SystemExit(f"README.md has no {BEGIN} … {END} section")
    return pattern.sub(lambda _: readme_table(), readme, count=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether README.md is current")
    args = parser.parse_args()
    path = ROOT / "README.md"
    current = path.read_text(encoding="utf-8")
    wanted = rewritten(current)
    if args.check:
        if wanted != current:
            print("README.md's configuration table differs from the settings model: run scripts/docs_tables.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
