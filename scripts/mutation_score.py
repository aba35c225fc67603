"""Per-module mutation score from mutmut's results (mutants/**/*.meta), as a markdown table.

score = killed / (total - equivalent). Equivalent mutants (no test can tell them from the
original) are listed with the reason in tests/mutation_equivalent.txt, one per line:
``mutant_name  # why``. Timeouts, "no tests" and unchecked mutants are not counted as killed.
``--survivors`` lists the survivors that are not marked equivalent (the triage list).
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

EQUIVALENT_FILE = Path("tests/mutation_equivalent.txt")
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 36: "timeout",
          -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout", None: "not checked"}


def equivalent_names(path: Path = EQUIVALENT_FILE) -> set[str]:
    lines = path.read_text().splitlines() if path.is_file() else []
    return {line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()}


def results(root: Path = Path("mutants")) -> dict[str, dict[str, str]]:
    """module -> {mutant name -> status}."""
    by_module: dict[str, dict[str, str]] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        module = ".".join(meta.relative_to(root).with_suffix("").with_suffix("").parts)
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        by_module[module] = {name: STATUS.get(code, "suspicious") for name, code in codes.items()}
    return by_module


def table(by_module: dict[str, dict[str, str]], equivalent: set[str]) -> list[str]:
    rows = ["| module | total | killed | survived | equivalent | timeout | other | score |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    sums: Counter = Counter()
    for module, statuses in by_module.items():
        c = Counter()
        for name, status in statuses.items():
            c["equivalent" if status == "survived" and name in equivalent else status] += 1
        c["total"] = len(statuses)
        c["other"] = c["total"] - c["killed"] - c["survived"] - c["equivalent"] - c["timeout"]
        sums.update(c)
        rows.append(_row(module, c))
    rows.append(_row("**all**", sums))
    return rows


def _row(name: str, c: Counter) -> str:
    live = c["total"] - c["equivalent"]
    score = f"{100 * c['killed'] / live:.1f} %" if live else "-"
    cells = [c[k] for k in ("total", "killed", "survived", "equivalent", "timeout", "other")]
    return f"| {name} | " + " | ".join(str(x) for x in cells) + f" | {score} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--survivors", action="store_true", help="list survivors not marked equivalent")
    args = ap.parse_args()
    by_module, equivalent = results(), equivalent_names()
    if args.survivors:
        for module, statuses in by_module.items():
            for name, status in statuses.items():
                if status in ("survived", "no tests", "suspicious") and name not in equivalent:
                    print(f"{status}\t{name}")
        return
    print("\n".join(table(by_module, equivalent)))


if __name__ == "__main__":
    main()
