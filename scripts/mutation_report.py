"""Summarise one module's mutmut run (called by scripts/mutation.sh from the module's copy).

Prints one table row — mutants, killed, timeout, survived, no tests, the raw kill rate and the
rate once mechanically-equivalent survivors are set apart — then, with --survivors, each
surviving mutant as a diff. Mechanically equivalent here means one thing only: the mutant
changes nothing but the letter case of SQL text or of a sqlite3.Row key, both of which SQLite
reads case-insensitively (mutmut upper-cases every string it finds): text with an SQL keyword
or a `?` placeholder, or a `row["..."]` key. Every other survivor is
listed for a person to judge (docs/mutation.md).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

SQL = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|PRAGMA|BEGIN|COMMIT|ROLLBACK|FROM|WHERE|ORDER BY|GROUP BY|VALUES|JOIN|LIMIT"
    r"|IS NULL|ON CONFLICT|DO NOTHING|COALESCE|COUNT|SUM)\b",
    re.I,
)
ROW_KEY = re.compile(r'\b(r|row)\["')  # sqlite3.Row keys (the stores' row-reading helpers)


def mutmut(*args: str) -> str:
    return subprocess.run([sys.argv[1], *args], capture_output=True, text=True).stdout


def diff(name: str) -> tuple[list[str], list[str]]:
    lines = mutmut("show", name).splitlines()
    return [l[2:] for l in lines if l.startswith("- ")], [l[2:] for l in lines if l.startswith("+ ")]


def case_only_sql(minus: list[str], plus: list[str]) -> bool:
    return (
        bool(minus) and len(minus) == len(plus)
        and all(m != p and m.lower() == p.lower() for m, p in zip(minus, plus))
        and all(SQL.search(m) or "?" in m or ROW_KEY.search(m) for m in minus)
    )


def main() -> None:
    _, stats_path, module, *flags = sys.argv[1:]
    stats = json.load(open(stats_path))
    survivors = [
        line.split(": ")[0].strip()
        for line in mutmut("results").splitlines()
        if line.strip().endswith((": survived", ": no tests"))
    ]
    diffs = {name: diff(name) for name in survivors}
    equivalent = [n for n, (m, p) in diffs.items() if case_only_sql(m, p)]
    total = stats["total"] - stats["skipped"]
    killed = stats["killed"] + stats["timeout"]
    raw = 100.0 * killed / total if total else 0.0
    judged = 100.0 * killed / (total - len(equivalent)) if total > len(equivalent) else 0.0
    if "--survivors" not in flags:
        print(f"{module:<15} {total:>7} {stats['killed']:>7} {stats['timeout']:>8} {stats['survived']:>8} "
              f"{stats['no_tests']:>8} {raw:>6.1f}% {len(equivalent):>6} {judged:>6.1f}%")
        return
    listed = [n for n in survivors if n not in equivalent]
    if not listed and not equivalent:
        return
    print(f"### {module}")
    if equivalent:
        print(f"- {len(equivalent)} case-only SQL / row-key mutants (equivalent: SQLite ignores that case)")
    for name in listed:
        minus, plus = diffs[name]
        print(f"- {name}")
        for line in minus:
            print(f"      - {line.strip()}")
        for line in plus:
            print(f"      + {line.strip()}")


if __name__ == "__main__":
    main()
